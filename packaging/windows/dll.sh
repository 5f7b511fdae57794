#!/usr/bin/env bash
# Makes the drop-in D32-SMTP.DLL next to smtp32.dll in DIR (a Windows build's output folder):
# the same library under the SMTP-32 name, a .def file listing its undecorated smtp_* exports,
# and MinGW import libraries for both names (libd32-smtp.dll.a, and smtp32's own
# libsmtp32.dll.a that cargo makes). Needs x86_64-w64-mingw32-{objdump,dlltool}.
#
#   packaging/windows/dll.sh DIR
set -euo pipefail
DIR=${1:?usage: dll.sh DIR}
cp "$DIR/smtp32.dll" "$DIR/D32-SMTP.DLL"
{
    echo "LIBRARY D32-SMTP.DLL"
    echo "EXPORTS"
    x86_64-w64-mingw32-objdump -p "$DIR/smtp32.dll" \
        | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' \
        | grep -o 'smtp_[a-z_]*' | sed 's/^/    /'
} >"$DIR/d32-smtp.def"
count=$(grep -c '^    smtp_' "$DIR/d32-smtp.def")
[ "$count" -ge 27 ] || { echo "dll.sh: only $count smtp_* exports in smtp32.dll" >&2; exit 1; }
x86_64-w64-mingw32-dlltool -d "$DIR/d32-smtp.def" -D D32-SMTP.DLL -l "$DIR/libd32-smtp.dll.a"
