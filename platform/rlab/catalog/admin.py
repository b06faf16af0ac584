from django.contrib import admin

from rlab.catalog.models import Benchmark, Dataset, Example, ImportJob


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "source", "parent", "created_at"]
    list_filter = ["kind", "team"]
    search_fields = ["name"]


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ["dataset", "index", "pi_rank", "historical_variance", "subject", "level"]
    list_filter = ["dataset"]
    search_fields = ["problem"]


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "grader", "repeats", "dataset"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "filename", "size", "status", "created_at", "finished_at"]
    list_filter = ["status", "team"]
