"""An import-linter contract that forbids importing given names from a module, e.g. `flask.request`.

import-linter's own contracts work on whole modules; `request` is an attribute of `flask`, so this
one reads the import lines grimp recorded.
"""

from __future__ import annotations

import re

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class ForbiddenNamesContract(Contract):
    type_name = "forbidden_names"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    forbidden_names = fields.ListField(subfield=fields.StringField())  # "flask.request"

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        found: list[str] = []
        for source in self.source_modules:  # type: ignore[attr-defined]
            importers = {source.name, *graph.find_descendants(source.name)}
            for dotted in self.forbidden_names:  # type: ignore[attr-defined]
                module, name = str(dotted).rsplit(".", 1)
                pattern = re.compile(
                    rf"^from {re.escape(module)} import .*\b{re.escape(name)}\b|"
                    rf"^import {re.escape(dotted)}\b|\b{re.escape(dotted)}\b"
                )
                for importer in sorted(importers):
                    if not graph.direct_import_exists(importer=importer, imported=module):
                        continue
                    for detail in graph.get_import_details(importer=importer, imported=module):
                        if pattern.search(detail["line_contents"]):
                            found.append(f"{importer}:{detail['line_number']}: {detail['line_contents']}")
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["found"]:
            output.print_error(line)
