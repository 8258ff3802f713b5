#!/usr/bin/env bash
# Fails when git tracks an executable binary: an ELF, Mach-O or PE file, or a
# binary file (as git's text detection sees it) with the executable bit.
# Nothing built is committed (go build leaves its binaries in the root).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
found=0
# git ls-files --eol marks the index content of binary files "i/-text".
while IFS= read -r path; do
	[ -f "$path" ] || continue
	magic=$(head -c 4 "$path" | od -An -tx1 | tr -d ' \n')
	case "$magic" in
	7f454c46 | feedface | feedfacf | cefaedfe | cffaedfe | cafebabe | 4d5a*)
		echo "tracked executable binary: $path" >&2
		found=1
		;;
	*)
		if [ "$(git ls-files -s -- "$path" | cut -d' ' -f1)" = 100755 ]; then
			echo "tracked executable file holding binary data: $path" >&2
			found=1
		fi
		;;
	esac
done < <(git ls-files --eol | awk '$1 == "i/-text" { sub(/^[^\t]*\t/, ""); print }')
if [ "$found" = 1 ]; then
	echo "remove built files from git (git rm --cached <file>) and ignore them in .gitignore" >&2
	exit 1
fi
