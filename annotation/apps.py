from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals  # connects the user-deletion receivers

        post_migrate.connect(signals.build_missing_summaries, sender=self)
