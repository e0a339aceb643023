from annotation.importers import import_labels

from ._importing import ImportCommand


class Command(ImportCommand):
    help = ("Import human labels (CSV, spec section 4).\n"
            "Atomic: a file with any bad line imports nothing.")
    importer = staticmethod(import_labels)
    what = "human labels (CSV, spec section 4)"
