# Sphinx configuration of the osops.toolkit docs site. The pages come from
# `antsibull-docs collection` (modules, plugins, roles, and the guides in docs/docsite);
# tests/quality/test_docs.py builds it with warnings as errors.
project = 'osops.toolkit'
copyright = 'osops.toolkit maintainers'
title = 'osops.toolkit'
html_short_title = 'osops.toolkit'

extensions = ['sphinx.ext.intersphinx', 'sphinx_antsibull_ext']
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

# Offline (CI here cannot reach docs.ansible.com): no intersphinx inventories. References into the
# Ansible docs and other collections then cannot resolve; every reference inside this
# collection still must (nitpicky, -W).
intersphinx_mapping = {}
nitpicky = True
nitpick_ignore_regex = [
    ('ref', r'ansible_collections\.(?!osops\.toolkit\.).*'),
    ('ref', r'common_return_values|ansible_configuration_settings'),
    ('envvar', r'ANSIBLE_.*'),
]
default_role = 'any'
