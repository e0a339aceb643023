from annotation.importers import import_responses

from ._importing import ImportCommand


class Command(ImportCommand):
    help = ("Import responses and judge decisions (JSONL, spec section 2).\n"
            "Atomic: a file with any bad line imports nothing.")
    importer = staticmethod(import_responses)
    what = "responses and judge decisions (JSONL, spec section 2)"
