from django.contrib import admin

from rlab.experiments.models import Checkpoint, DeviceLease, Run, Spec, Sweep, TrainMetric, WorkerNode


@admin.register(Spec)
class SpecAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "short_hash", "created_by", "created_at"]
    list_filter = ["team"]
    readonly_fields = ["content_hash", "spec_json"]


@admin.register(Sweep)
class SweepAdmin(admin.ModelAdmin):
    list_display = ["id", "spec", "team", "created_at"]


class CheckpointInline(admin.TabularInline):
    model = Checkpoint
    extra = 0


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "step", "total_steps", "queue", "worker", "created_at"]
    list_filter = ["status", "queue", "team"]
    search_fields = ["name"]
    inlines = [CheckpointInline]


@admin.register(TrainMetric)
class TrainMetricAdmin(admin.ModelAdmin):
    list_display = ["run", "step"]


class DeviceLeaseInline(admin.TabularInline):
    model = DeviceLease
    extra = 0
    raw_id_fields = ["run", "eval_request"]


@admin.register(WorkerNode)
class WorkerNodeAdmin(admin.ModelAdmin):
    """Deleting a lost worker's row frees its leases at once (they would go with its heartbeat anyway)."""

    list_display = ["name", "host", "heartbeat_at", "started_at"]
    search_fields = ["name", "host"]
    inlines = [DeviceLeaseInline]
