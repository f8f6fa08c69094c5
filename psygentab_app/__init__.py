"""The dashboard's shared layer: the session object, the sidebar and page helpers.

Only this package and ``views/`` import Streamlit; all computing happens in ``psygentab_core``.
"""
