"""The shared shape of the four import commands: read FILE, call one importer, report."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.importers import ImportRejected, ImportSummary


class ImportCommand(BaseCommand):
    importer = staticmethod(lambda **kwargs: ImportSummary(file_name=""))
    what = "records"
    # The system checks import every URL and view and what they import: seconds of start-up
    # for a command that only reads a file and writes rows. `manage.py check` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help=f"the {self.what} file to import")
        parser.add_argument("--benchmark", required=True, help="the benchmark's name")

    def handle(self, *args, file: Path, benchmark: str, **options) -> None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: cannot read ({exc.strerror})") from exc
        try:
            summary = self.importer(data=data, file_name=file.name, benchmark_name=benchmark)
        except ImportRejected as exc:
            raise CommandError(f"{file.name} was not imported; nothing was written:\n{exc}"
                               ) from exc
        self.stdout.write(self.style.SUCCESS(str(summary)))
