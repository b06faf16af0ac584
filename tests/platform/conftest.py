"""Teams, users and catalog rows for the platform tests."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rlab.catalog.models import Dataset, Example
from rlab.experiments.models import Run, Spec, Sweep
from rlab.spec import content_hash, parse_spec
from rlab.teams.models import Membership, Team

PASSWORD = "a-long-test-password"


def make_member(username: str, team: Team, role: str = Membership.Role.MEMBER):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(team=team, user=user, role=role)
    return user


def logged_in(user, **kwargs) -> Client:
    """A test client logged in as `user` (made by make_member); `kwargs` go to Client."""
    client = Client(**kwargs)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def make_dataset(team: Team | None, name: str, size: int = 3) -> Dataset:
    dataset = Dataset.objects.create(team=team, name=name, source="test")
    Example.objects.bulk_create(
        Example(dataset=dataset, index=i, problem=f"What is {i} + {i}?", answer=str(2 * i), pi_rank=i + 1)
        for i in range(size)
    )
    return dataset


@pytest.fixture
def team_a(db) -> Team:
    return Team.objects.create(name="Team A", slug="team-a")


@pytest.fixture
def team_b(db) -> Team:
    return Team.objects.create(name="Team B", slug="team-b")


@pytest.fixture
def alice(team_a):
    return make_member("alice", team_a, Membership.Role.OWNER)


@pytest.fixture
def bob(team_b):
    return make_member("bob", team_b, Membership.Role.OWNER)


@pytest.fixture
def shared_datasets(db) -> list[Dataset]:
    """Shared (team-less) datasets that the example specs name."""
    return [make_dataset(None, name) for name in ("arith", "dsr_sub")]


def make_unqueued_run(team: Team, yaml_text: str) -> Run:
    """A queued Run row whose task was never sent: for tests that claim it themselves, with no worker
    racing them for it."""
    spec_model = parse_spec(yaml_text)
    spec = Spec.objects.create(
        team=team,
        name=spec_model.name,
        yaml_text=yaml_text,
        spec_json=spec_model.model_dump(mode="json"),
        content_hash=content_hash(spec_model),
    )
    sweep = Sweep.objects.create(team=team, spec=spec)
    return Run.objects.create(
        team=team,
        spec=spec,
        sweep=sweep,
        name=f"unqueued-{spec.pk}",
        config=spec.spec_json,
        queue="cpu",
        total_steps=spec_model.train.steps,
    )
