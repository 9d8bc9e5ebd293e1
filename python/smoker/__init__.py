"""smokerd's compatibility package for the original smoker's Python API.

Other directories holding a `smoker` package (the original's, or a user's own
`smoker/plugins/x.py`) are merged in by pkgutil.extend_path.
"""
import pkgutil

__path__ = pkgutil.extend_path(__path__, __name__)
