#!/usr/bin/env bash
# Translation catalogues (Flask-Babel). Two catalogues, two sources:
#   en: OUR strings. The source is written in Norwegian bokmål, so en/messages.po translates
#       Norwegian msgids (extracted by babel.cfg into messages.pot) into English.
#   nb: FAB'S strings. Flask-AppBuilder ships no nb catalogue and writes English msgids, so
#       nb/messages.po translates fab.pot (extracted from the installed FAB) into bokmål.
# Flask-Babel merges FAB's translations folder with app/translations, ours last (ours wins).
#
# Usage: scripts/i18n.sh extract|fab-pot|update|compile|all
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYBABEL="${PYBABEL:-$ROOT/.venv/bin/pybabel}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TR=app/translations
KEYWORDS=(-k _ -k gettext -k lazy_gettext -k _l -k ngettext:1,2 -k lazy_ngettext:1,2 -k pgettext:1c,2)

extract() {
  "$PYBABEL" -q extract -F babel.cfg "${KEYWORDS[@]}" --no-wrap --sort-by-file \
    --project=Kundeportal --copyright-holder="Kundeportal" --msgid-bugs-address="kundeservice@kundeportal.no" \
    -o "$TR/messages.pot" .
}

fab_pot() {
  local fab cfg version
  fab="$("$PYTHON" -c 'import flask_appbuilder, os; print(os.path.dirname(flask_appbuilder.__file__))')"
  version="$("$PYTHON" -c 'import flask_appbuilder; print(flask_appbuilder.__version__)')"
  cfg="$(mktemp)"
  printf '[python: **.py]\n[jinja2: **/templates/**.html]\n' > "$cfg"
  # Paths relative to site-packages so the pot does not depend on where the venv lives.
  (cd "$(dirname "$fab")" && "$PYBABEL" -q extract -F "$cfg" "${KEYWORDS[@]}" --no-wrap --sort-by-file \
    --project=Flask-AppBuilder --version="$version" -o "$ROOT/$TR/fab.pot" flask_appbuilder)
  rm -f "$cfg"
}

update_one() {  # $1 locale, $2 template
  local po="$TR/$1/LC_MESSAGES/messages.po"
  if [[ -f "$po" ]]; then
    "$PYBABEL" update -i "$TR/$2" -d "$TR" -l "$1" --no-wrap --no-fuzzy-matching
  else
    "$PYBABEL" init -i "$TR/$2" -d "$TR" -l "$1" --no-wrap
  fi
}

update() {
  update_one en messages.pot
  update_one nb fab.pot
}

compile() {
  # --statistics shows untranslated counts; tests/test_i18n.py fails on any untranslated msgid.
  "$PYBABEL" compile -d "$TR" --statistics
}

case "${1:-}" in
  extract) extract ;;
  fab-pot) fab_pot ;;
  update) update ;;
  compile) compile ;;
  all) extract; fab_pot; update; compile ;;
  *) echo "usage: $0 extract|fab-pot|update|compile|all" >&2; exit 2 ;;
esac
