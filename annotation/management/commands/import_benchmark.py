from annotation.importers import import_benchmark

from ._importing import ImportCommand


class Command(ImportCommand):
    help = ("Import benchmark (JSONL, spec section 1).\n"
            "Atomic: a file with any bad line imports nothing.")
    importer = staticmethod(import_benchmark)
    what = "benchmark (JSONL, spec section 1)"
