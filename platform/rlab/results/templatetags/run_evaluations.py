"""`{% load run_evaluations %}{% run_evaluations run %}`: the results app's evaluation table on the run page,
so that the experiments app's templates show it without experiments code reading evaluation results."""

from django import template
from django.utils import timezone

from rlab.results.run_evaluations import run_evaluations_context

register = template.Library()


@register.inclusion_tag("results/_run_evaluations.html")
def run_evaluations(run) -> dict:
    return run_evaluations_context(run, timezone.now())
