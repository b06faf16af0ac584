from django.urls import path

from rlab.experiments import fleet_views, publishing, sweep_views, views

app_name = "experiments"
urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/curves/", views.run_curves, name="run_curves"),
    path("runs/<int:pk>/log/", views.run_log, name="run_log"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run_retry"),
    path("runs/<int:pk>/publish/", publishing.run_publish, name="run_publish"),
    path("sweeps/<int:pk>/", sweep_views.sweep_detail, name="sweep_detail"),
    path("sweeps/<int:pk>/cancel/", sweep_views.sweep_cancel, name="sweep_cancel"),
    path("sweeps/<int:pk>/retry/", sweep_views.sweep_retry, name="sweep_retry"),
    path("workers/", fleet_views.fleet_page, name="fleet"),
    path("specs/", views.spec_list, name="spec_list"),
    path("specs/new/", views.spec_new, name="spec_new"),
    path("specs/new/form/", views.spec_form_to_yaml, name="spec_form_to_yaml"),
    path("specs/new/yaml/", views.spec_yaml_to_form, name="spec_yaml_to_form"),
    path("specs/<int:pk>/", views.spec_detail, name="spec_detail"),
]
