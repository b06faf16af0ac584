"""Label-noise variants are derived datasets that keep each original label beside the corrupted one."""

import pytest

from rlab.catalog.curation.ranking import rank_examples
from rlab.catalog.models import Dataset
from rlab.catalog.rankings import resolve_examples, store_ranking
from rlab.catalog.variants import label_noise_variant
from tests.platform.conftest import make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(team_a) -> Dataset:
    dataset = make_dataset(team_a, "numbers", size=10)  # answers "0", "2", … "18"
    store_ranking(dataset, rank_examples([(i, [0, 1] if i == 7 else [1, 1]) for i in range(10)]), "hv")
    return dataset


def test_variant_corrupts_the_fraction_and_keeps_originals(parent):
    variant = label_noise_variant(parent, 0.5, seed=3, team=parent.team)
    assert variant.parent == parent and variant.team == parent.team
    assert variant.derivation == {
        "rule": "one-shot-rlvr-label-noise",
        "fraction": 0.5,
        "seed": 3,
        "scope": "all",
        "n_corrupted": 5,
        "n_rows": 10,
        "realized_rate": 0.5,
    }
    examples = list(variant.examples.order_by("index"))
    assert [e.original_answer for e in examples] == [str(2 * i) for i in range(10)]
    noisy = [e for e in examples if e.is_noisy]
    assert len(noisy) == 5
    for example in noisy:  # the rule: wrong = s * (x + d), d in ±1..10, s = ±1, and wrong != x
        wrong, original = int(example.answer), int(example.original_answer)
        assert wrong != original
        assert any(1 <= abs(sign * wrong - original) <= 10 for sign in (1, -1))


def test_same_seed_gives_the_same_variant_and_another_seed_another(parent):
    first = label_noise_variant(parent, 0.5, seed=3, team=parent.team)
    assert label_noise_variant(parent, 0.5, seed=3, team=parent.team).pk == first.pk
    other = label_noise_variant(parent, 0.5, seed=4, team=parent.team)
    assert other.pk != first.pk
    assert Dataset.objects.filter(parent=parent).count() == 2


def test_pi_names_mean_the_same_problems_in_the_variant(parent):
    variant = label_noise_variant(parent, 0.9, seed=0, team=parent.team)
    assert resolve_examples(variant, ["pi1"])[0].index == 7


def test_a_variant_of_a_shared_dataset_belongs_to_the_team_that_made_it(team_a, team_b, alice, bob):
    shared = make_dataset(None, "shared-numbers", size=10)
    variant_a = label_noise_variant(shared, 0.5, seed=0, team=team_a)
    variant_b = label_noise_variant(shared, 0.5, seed=0, team=team_b)
    assert (variant_a.team, variant_b.team) == (team_a, team_b) and variant_a.name == variant_b.name
    assert label_noise_variant(shared, 0.5, seed=0, team=team_a).pk == variant_a.pk
    assert list(Dataset.objects.visible_to(alice).filter(parent=shared)) == [variant_a]
    assert list(Dataset.objects.visible_to(bob).filter(parent=shared)) == [variant_b]


def test_no_variant_of_another_teams_dataset(parent, team_b):
    with pytest.raises(ValueError, match="another team"):
        label_noise_variant(parent, 0.5, seed=0, team=team_b)
    assert not Dataset.objects.filter(parent=parent).exists()
