from django.urls import path

from rlab.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.dataset_upload, name="dataset_upload"),
    path("upload/preview/", views.upload_preview, name="upload_preview"),
    path("import-hub/", views.dataset_import_hub, name="dataset_import_hub"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("<int:pk>/noise/", views.dataset_noise, name="dataset_noise"),
    path("<int:pk>/examples/<int:index>/", views.example_detail, name="example_detail"),
]
