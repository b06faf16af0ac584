from django.urls import path

from rlab.results import views

app_name = "results"
urlpatterns = [
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("leaderboard/global/", views.global_leaderboard, name="global_leaderboard"),
    path("sweeps/<int:pk>/examples/", views.example_comparison, name="example_comparison"),
    path("sweeps/<int:pk>/ablation/", views.ablation, name="ablation"),
    path("runs/<int:pk>/evaluations/", views.run_evaluations, name="run_evaluations"),
    path("evaluations/<int:pk>/", views.evaluation, name="evaluation"),
    path("evaluations/<int:pk>/problems/<int:example_pk>/", views.problem, name="problem"),
    path("compare/", views.compare, name="compare"),
    path("runs/<int:pk>/grid/", views.problem_grid, name="problem_grid"),
    path("overlay/", views.overlay, name="overlay"),
]
