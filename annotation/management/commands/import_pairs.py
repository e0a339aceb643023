from annotation.importers import import_pairs

from ._importing import ImportCommand


class Command(ImportCommand):
    help = ("Import pairwise comparisons (JSONL, spec section 3).\n"
            "Atomic: a file with any bad line imports nothing.")
    importer = staticmethod(import_pairs)
    what = "pairwise comparisons (JSONL, spec section 3)"
