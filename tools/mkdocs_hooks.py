"""MkDocs hook: put the executed reproduction notebooks (notebooks/*.ipynb) and their figures
(notebooks/figures/*.png) into the documentation site without copying them into docs/.

The notebooks are rendered as they are committed (mkdocs-jupyter with ``execute: false``); this hook
only registers the files, before mkdocs-jupyter's own ``on_files`` (higher event priority) so that
it converts them like notebooks placed in docs/.
"""

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]


@event_priority(100)
def on_files(files, config):
    notebooks = ROOT / "notebooks"
    for path in sorted(notebooks.glob("*.ipynb")) + sorted((notebooks / "figures").glob("*.png")):
        uri = path.relative_to(ROOT).as_posix()
        if files.get_file_from_path(uri) is None:
            # src_dir = repository root: a real File (not File.generated), whose abs_src_path
            # survives mkdocs-jupyter's wrapping
            files.append(File(uri, src_dir=str(ROOT), dest_dir=config.site_dir,
                              use_directory_urls=config.use_directory_urls))
    return files
