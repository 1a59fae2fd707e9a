#!/bin/bash
# usage: bash scripts/debian_mirror.sh
# Prints the Debian mirror this machine's apt already uses (the first URI serving a plain
# Debian suite, not -security/-updates), from /etc/apt/sources.list(.d). $MIRROR overrides.
# The chroot scripts take their mirror from here, so no script names a mirror host.
set -eu
if [ -n "${MIRROR:-}" ]; then
    echo "$MIRROR"
    exit 0
fi
shopt -s nullglob
# deb822 .sources: a stanza's URIs: line, kept when its Suites: line has a plain suite name
for f in /etc/apt/sources.list.d/*.sources; do
    awk '
        /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
        tolower($1) == "uris:" { uri = $2 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i !~ /-/) ok = 1 }
        END { if (uri != "" && ok) print uri }
    ' "$f"
done | grep -m1 -i 'debian' && exit 0
# one-line sources.list: "deb [opts] URI SUITE COMPONENTS"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                       if ($(i + 1) !~ /-/) print $i }' "$f"
done | grep -m1 -i 'debian' && exit 0
echo "debian_mirror: no Debian mirror in /etc/apt/sources.list(.d); set MIRROR=" >&2
exit 1
