# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sphinx configuration for the collection's HTML docs (built offline by tests/utils/build_docs.py)."""

project = 'consul.peering'
extensions = ['sphinx_antsibull_ext']
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
html_copy_source = False
html_title = 'consul.peering'
default_role = 'any'
# Every reference must resolve; the few that point into Ansible's own docs are defined in external.rst,
# because intersphinx inventories cannot be downloaded here.
nitpicky = True
