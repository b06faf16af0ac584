from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from rlab.experiments import api, fleet_views, read_api
from rlab.results import api as results_api

api_patterns = [
    path("specs/validate/", api.validate, name="validate"),
    path("specs/submit/", api.submit, name="submit"),
    path("runs/", read_api.run_list, name="run_list"),
    path("runs/<int:pk>/", api.run_status, name="run_status"),
    path("runs/<int:pk>/metrics/", read_api.run_metrics, name="run_metrics"),
    path("runs/<int:pk>/checkpoints/", results_api.run_checkpoints, name="run_checkpoints"),
    path("runs/<int:pk>/publish/", api.run_publish, name="run_publish"),
    path("sweeps/", read_api.sweep_list, name="sweep_list"),
    path("sweeps/<int:pk>/", read_api.sweep_detail, name="sweep_detail"),
    path("sweeps/<int:pk>/cancel/", api.sweep_cancel, name="sweep_cancel"),
    path("sweeps/<int:pk>/retry/", api.sweep_retry, name="sweep_retry"),
    path("sweeps/<int:pk>/ablation/", results_api.ablation, name="ablation"),
    path("sweeps/<int:pk>/examples/", results_api.example_comparison, name="example_comparison"),
    path("evaluations/", results_api.evaluation_list, name="evaluation_list"),
    path("evaluations/<int:pk>/", results_api.evaluation_detail, name="evaluation_detail"),
    path("evaluations/<int:pk>/problems/", results_api.evaluation_problems, name="evaluation_problems"),
    path("leaderboard/", results_api.leaderboard, name="leaderboard"),
    path("leaderboard/global/", results_api.global_leaderboard, name="global_leaderboard"),
    path("workers/", fleet_views.fleet_json, name="workers"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="experiments:run_list"), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_patterns, "api"))),
    path("datasets/", include("rlab.catalog.urls")),
    path("teams/", include("rlab.teams.urls")),
    path("results/", include("rlab.results.urls")),
    path("", include("rlab.experiments.urls")),
]
