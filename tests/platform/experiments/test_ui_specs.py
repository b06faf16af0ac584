"""The spec editor: a form generated from the spec's JSON schema beside its YAML, live validation with errors
at their fields, launching (with and without JavaScript) and cloning."""

import time

import pytest
from django.http import QueryDict
from django.urls import reverse

from rlab.experiments import worker_status
from rlab.experiments.models import Run, Spec, Sweep
from rlab.experiments.spec_form import MISSING, BoundField, SpecForm, dump_yaml, load_yaml
from rlab.experiments.submission import submit_spec
from rlab.spec import FieldError, json_schema, parse_spec
from tests.platform.conftest import logged_in, make_dataset
from tests.services import WorkerProcess

SPEC = """\
version: 1
name: editor-run
model:
  id: smollm2-135m-instruct
data:
  dataset: team-data
  examples: [0]
train:
  steps: 3
eval:
  suite: [arith]
resources:
  queue: cpu
  gpus: 0
"""


@pytest.fixture
def form() -> SpecForm:
    return SpecForm(
        json_schema(), {"eval.suite": ["arith", "math500", "aime24"], "data.dataset": ["team-data"]}
    )


def posted(form: SpecForm, data: dict | None = None, **changes: str | list[str]) -> QueryDict:
    """What the browser posts for the form showing `data`, with some fields then changed."""
    post = QueryDict(mutable=True)
    for path, value in form.values_from_data(data).items():
        bound = BoundField(form.fields[path], value)
        if form.fields[path].kind == "multichoice":
            post.setlist(path, ["", *bound.selected])
        else:
            post[path] = bound.text
    for path, value in changes.items():
        path = path.replace("__", ".")
        post.setlist(path, ["", *value]) if isinstance(value, list) else post.__setitem__(path, value)
    return post


# ---------------------------------------------------------------- the form, from the schema


def test_one_section_per_top_level_block_with_defaults_and_help(form):
    titles = [section.title for section in form.sections]
    assert titles == ["general", "model", "algorithm", "loss", "data", "train", "eval", "resources", "sweep"]
    lr = form.fields["train.lr"]
    assert (lr.kind, lr.default, lr.help) == ("number", 1e-06, "Learning rate (AdamW).")
    assert form.fields["model.id"].required and form.fields["model.id"].default is MISSING
    assert form.fields["loss.kl_estimator"].choices == ("k1", "kl", "k2", "mse", "k3", "low_var_kl")
    assert form.fields["eval.suite"].kind == "multichoice" and form.fields["sweep"].kind == "yaml"
    assert form.constants == {"version": 1}
    grpo = next(s for s in form.all_sections if s.path == "algorithm.grpo")
    assert grpo.shown_when == ("algorithm.name", "grpo")


def test_untouched_form_gives_only_the_version(form):
    assert form.data_from_post(posted(form)) == {"version": 1}


def test_form_keeps_only_what_differs_from_defaults(form):
    data = form.data_from_post(
        posted(
            form,
            name="x",
            model__id="a/b",
            train__lr="1e-5",
            train__steps="500",  # the default: left out
            data__examples="pi1, 7",
            eval__suite=["arith", "aime24"],
            loss__dual_clip_c="",  # nullable with a default: cleared means null
            sweep="train.lr: [1.0e-6, 2.0e-6]",
        )
    )
    assert data == {
        "version": 1,
        "name": "x",
        "model": {"id": "a/b"},
        "loss": {"dual_clip_c": None},
        "data": {"examples": ["pi1", 7]},
        "train": {"lr": 1e-5},
        "eval": {"suite": ["arith", "aime24"]},
        "sweep": {"train.lr": [1e-6, 2e-6]},
    }


def test_only_the_chosen_algorithms_block_is_kept(form):
    post = posted(form, algorithm__grpo__temperature="0.9", algorithm__srft__temperature="0.3")
    assert form.data_from_post(post)["algorithm"] == {"grpo": {"temperature": 0.9}}
    post["algorithm.name"] = "srft"
    assert form.data_from_post(post)["algorithm"] == {"name": "srft", "srft": {"temperature": 0.3}}


def test_yaml_round_trips_through_the_form(form):
    data = load_yaml(SPEC)
    assert form.data_from_post(posted(form, data)) == data
    assert load_yaml(dump_yaml(data)) == data
    assert "suite: [arith]" in dump_yaml(data)


def test_unparsable_input_is_kept_for_validation_to_name(form):
    data = form.data_from_post(posted(form, name="x", model__id="a/b", train__lr="fast"))
    assert data["train"] == {"lr": "fast"}
    with pytest.raises(Exception) as error:
        parse_spec(dump_yaml(data))
    assert any(e.path == "train.lr" for e in error.value.errors)


def test_errors_are_placed_at_their_field_or_nearest_section(form):
    bound = form.bind(
        form.values_from_data(None),
        [
            FieldError("train.lr", "must be greater than 0"),
            FieldError("eval.suite[1]", "unknown benchmark 'x'"),
            FieldError("train.typo", "unknown field"),
            FieldError("resources", "resources.gpus must be 0 on the cpu queue"),
            FieldError("line 3, column 2", "not valid YAML"),
        ],
    )
    slots = {slot: messages for slot, messages in bound.slots if messages}
    assert slots == {
        "e-train--lr": ["must be greater than 0"],
        "e-eval--suite": ["unknown benchmark 'x'"],
        "e-train": ["train.typo: unknown field"],
        "e-resources": ["resources.gpus must be 0 on the cpu queue"],
        "e-general": ["line 3, column 2: not valid YAML"],
    }


# ---------------------------------------------------------------- the editor's pages


@pytest.fixture
def team_data(team_a):
    return make_dataset(team_a, "team-data")


def test_editor_page_renders_the_form_and_the_yaml(alice, team_data):
    body = logged_in(alice).get(reverse("experiments:spec_new")).content.decode()
    assert 'name="train.lr"' in body and 'value="1e-06"' in body and "Learning rate (AdamW)." in body
    assert 'id="spec-yaml"' in body and "version: 1" in body
    assert '<option value="team-data"' in body and 'value="aime24"' in body


def test_dataset_link_starts_the_editor_on_that_dataset(alice, team_data):
    response = logged_in(alice).get(reverse("experiments:spec_new"), {"dataset": "team-data"})
    assert "dataset: team-data" in response.content.decode()


def test_form_to_yaml_writes_yaml_and_shows_field_errors_out_of_band(alice, team_data, form):
    post = posted(form, name="x", model__id="smollm2-135m-instruct", train__lr="0", data__dataset="team-data")
    response = logged_in(alice).post(
        reverse("experiments:spec_form_to_yaml"), post, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="spec-yaml-panel"' in body and "lr: 0" in body
    assert 'id="e-train--lr" hx-swap-oob="true"><small class="field-error">must be greater than 0' in body
    assert 'id="e-model--id" hx-swap-oob="true"></div>' in body  # every slot is refreshed, empty ones too


def test_yaml_to_form_fills_the_form_and_counts_the_runs(alice, team_data):
    yaml_text = SPEC + "sweep: {train.lr: [1.0e-6, 2.0e-6, 3.0e-6]}\n"
    response = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"), {"yaml": yaml_text}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="spec-form-panel"' in body and 'name="train.steps" value="3"' in body
    assert '<option value="cpu" selected>' in body
    assert 'id="spec-status" class="spec-status" hx-swap-oob="true"' in body
    assert 'Launching creates <strong id="run-count">3</strong> runs' in body


def test_yaml_that_does_not_parse_keeps_the_form(alice, team_data, form):
    post = posted(form, name="kept-name")
    post["yaml"] = "name: [unclosed"
    body = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"), post, headers={"HX-Request": "true"}
    )
    body = body.content.decode()
    assert 'value="kept-name"' in body and "not valid YAML" in body


def test_unknown_dataset_is_reported_at_its_field(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"),
        {"yaml": SPEC.replace("team-data", "nope")},
        headers={"HX-Request": "true"},
    )
    assert 'id="e-data--dataset"><small class="field-error">no dataset named' in response.content.decode()


def test_launch_without_javascript_creates_the_runs(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_new"), {"yaml": SPEC + "sweep: {train.seed: [1, 2]}"}
    )
    sweep = Sweep.objects.get()
    assert (
        response.status_code == 302 and response.url == f"{reverse('experiments:run_list')}?sweep={sweep.pk}"
    )
    assert sweep.runs.count() == 2 and sweep.team.slug == "team-a"


def test_launch_with_htmx_redirects_the_browser(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_new"), {"yaml": SPEC}, headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Redirect"].startswith(reverse("experiments:run_list") + "?sweep=")
    assert Run.objects.count() == 1


def test_invalid_launch_shows_the_errors_and_creates_nothing(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_new"), {"yaml": SPEC.replace("steps: 3", "steps: 0")}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "greater than or equal to 1" in body
    assert 'id="e-train--steps"><small class="field-error">' in body
    assert not Spec.objects.exists() and not Run.objects.exists()


def test_clone_prefills_the_editor_and_records_its_origin(alice, team_a, team_data):
    original = submit_spec(team_a, alice, SPEC).spec
    client = logged_in(alice)
    body = client.get(reverse("experiments:spec_new"), {"from": original.pk}).content.decode()
    assert "Clone of" in body and f'name="cloned_from" value="{original.pk}"' in body
    assert "name: editor-run" in body and 'Launching creates <strong id="run-count">1</strong> run' in body
    client.post(
        reverse("experiments:spec_new"),
        {"yaml": SPEC.replace("editor-run", "v2"), "cloned_from": original.pk},
    )
    assert Spec.objects.get(name="v2").cloned_from == original


def test_foreign_specs_cannot_be_cloned(alice, bob, team_b):
    make_dataset(team_b, "team-data")
    foreign = submit_spec(team_b, bob, SPEC).spec
    client = logged_in(alice)
    assert client.get(reverse("experiments:spec_new"), {"from": foreign.pk}).status_code == 404
    assert client.get(reverse("experiments:spec_new"), {"from": "x"}).status_code == 404
    response = client.post(reverse("experiments:spec_new"), {"yaml": SPEC, "cloned_from": foreign.pk})
    assert response.status_code == 404 and Spec.objects.count() == 1


def test_launch_uses_the_current_team_only(alice, bob, team_b):
    make_dataset(team_b, "team-data")  # bob's dataset: alice's team cannot train on it
    response = logged_in(alice).post(reverse("experiments:spec_new"), {"yaml": SPEC})
    assert "no dataset named &#x27;team-data&#x27; in team team-a" in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.parametrize("name", ["spec_new", "spec_form_to_yaml", "spec_yaml_to_form"])
def test_editor_needs_login_and_csrf(alice, team_data, name):
    from django.test import Client

    url = reverse(f"experiments:{name}")
    response = Client().post(url, {"yaml": SPEC})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert logged_in(alice, enforce_csrf_checks=True).post(url, {"yaml": SPEC}).status_code == 403
    assert not Run.objects.exists()


def test_spec_pages_offer_cloning(alice, team_a, team_data):
    spec = submit_spec(team_a, alice, SPEC).spec
    client = logged_in(alice)
    clone_link = f"{reverse('experiments:spec_new')}?from={spec.pk}"
    assert clone_link in client.get(reverse("experiments:spec_detail", args=[spec.pk])).content.decode()
    assert clone_link in client.get(reverse("experiments:spec_list")).content.decode()


def test_without_javascript_each_round_trip_shows_the_whole_editor(alice, team_data, form):
    client = logged_in(alice)
    page = client.post(reverse("experiments:spec_form_to_yaml"), posted(form, name="plain", model__id="a/b"))
    body = page.content.decode()
    assert "<html" in body and "name: plain" in body and 'id="spec-form-panel"' in body
    page = client.post(reverse("experiments:spec_yaml_to_form"), {"yaml": SPEC})
    body = page.content.decode()
    assert "<html" in body and 'name="name" value="editor-run"' in body and "Launching creates" in body


def test_spec_list_queries_stay_bounded(alice, team_a, team_data, django_assert_max_num_queries):
    for i in range(30):
        submit_spec(team_a, alice, SPEC.replace("editor-run", f"spec-{i}"))
    client = logged_in(alice)
    with django_assert_max_num_queries(7):
        assert len(client.get(reverse("experiments:spec_list")).context["specs"]) == 30


def test_a_user_in_no_team_cannot_launch_or_upload(db):
    from django.contrib.auth import get_user_model

    from tests.platform.conftest import PASSWORD

    loner = get_user_model().objects.create_user(username="loner", password=PASSWORD)
    client = logged_in(loner)
    assert client.get(reverse("experiments:spec_new")).status_code == 403
    assert client.post(reverse("experiments:spec_new"), {"yaml": SPEC}).status_code == 403
    assert client.get(reverse("catalog:dataset_upload")).status_code == 403
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("typo", "path", "suggestion"),
    [
        (SPEC.replace("train:", "trian:"), "trian", "train"),
        (SPEC.replace("  steps: 3", "  stepz: 3"), "train.stepz", "steps"),
    ],
)
def test_a_yaml_typo_says_did_you_mean(alice, team_data, typo, path, suggestion):
    """A misspelt block leaves its form section at the defaults: the error must say what was meant."""
    response = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"), {"yaml": typo}, headers={"HX-Request": "true"}
    )
    assert f"unknown field: did you mean &#x27;{suggestion}&#x27;?" in response.content.decode()
    launch = logged_in(alice).post(reverse("experiments:spec_new"), {"yaml": typo})
    assert f"did you mean &#x27;{suggestion}&#x27;?" in launch.content.decode()
    assert path in launch.content.decode() and not Run.objects.exists()


@pytest.fixture
def quiet_broker(celery_broker, redis_server):
    """The web process's Celery app on a Redis database of its own, where no session worker listens."""
    url = redis_server.url.rsplit("/", 1)[0] + "/7"  # kombu prefixes broadcasts with the database number
    saved = celery_broker.conf.broker_url
    for broker_url in (url, saved):
        celery_broker.conf.broker_url = broker_url
        # the app's connection and producer pools follow broker_url when they are rebuilt
        celery_broker._pool = celery_broker.amqp._producer_pool = None
        worker_status.forget()
        if broker_url == url:
            yield url


def test_editor_says_when_no_live_worker_listens_on_the_chosen_queue(
    alice, team_data, quiet_broker, child_env, tmp_path
):
    """The blank form defaults to the gpu queue: on a box with only a cpu worker it must say so."""
    note = "No live worker listens on the gpu queue"
    assert note in logged_in(alice).get(reverse("experiments:spec_new")).content.decode()
    worker = WorkerProcess(child_env | {"CELERY_BROKER_URL": quiet_broker}, tmp_path / "w.log", queues="cpu")
    worker.start()
    try:
        deadline = time.monotonic() + 60  # a worker just started may miss its first broadcasts on a busy box
        while "cpu" not in worker_status.listening_queues(
            now=time.monotonic() + worker_status.CACHE_SECONDS + 1
        ):
            assert time.monotonic() < deadline, "the cpu worker never answered"
        client = logged_in(alice)
        assert note in client.get(reverse("experiments:spec_new")).content.decode()
        on_cpu = client.post(
            reverse("experiments:spec_yaml_to_form"), {"yaml": SPEC}, headers={"HX-Request": "true"}
        )
        assert 'id="queue-note"' not in on_cpu.content.decode()
        on_gpu = client.post(
            reverse("experiments:spec_yaml_to_form"),
            {"yaml": SPEC.replace("queue: cpu", "queue: gpu").replace("gpus: 0", "gpus: 1")},
            headers={"HX-Request": "true"},
        )
        assert note in on_gpu.content.decode()
    finally:
        worker.stop()


# ---------------------------------------------------------------- memory plan and the gpu queue's refusal

GPU_SPEC = (
    SPEC.replace("smollm2-135m-instruct", "Qwen/Qwen2.5-Math-1.5B")
    .replace("steps: 3", "steps: 3\n  max_prompt_length: 1024\n  max_response_length: 3072")
    .replace("queue: cpu\n  gpus: 0", "queue: gpu\n  gpus: 1")
)


def test_editor_shows_the_memory_plan_and_the_refusal_of_a_run_too_big_for_the_gpu(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"), {"yaml": GPU_SPEC}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="memory-plan"' in body and "does NOT fit in 80.00 GiB per device" in body
    assert "<code>train.micro_batch_size</code> needs " in body and "rows per micro-batch fit" in body
    launched = logged_in(alice).post(reverse("experiments:spec_new"), {"yaml": GPU_SPEC})
    assert launched.status_code == 200 and not Run.objects.exists()


def test_a_run_that_fits_is_launched_with_its_plan_shown(alice, team_data):
    response = logged_in(alice).post(
        reverse("experiments:spec_yaml_to_form"), {"yaml": SPEC}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="spec-valid"' in body and 'id="memory-plan"' in body and "training phase:" in body
