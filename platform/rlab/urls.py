from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from rlab.experiments import api, fleet_views

api_patterns = [
    path("specs/validate/", api.validate, name="validate"),
    path("specs/submit/", api.submit, name="submit"),
    path("runs/<int:pk>/", api.run_status, name="run_status"),
    path("runs/<int:pk>/publish/", api.run_publish, name="run_publish"),
    path("sweeps/<int:pk>/cancel/", api.sweep_cancel, name="sweep_cancel"),
    path("sweeps/<int:pk>/retry/", api.sweep_retry, name="sweep_retry"),
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
