# bash completion for hsmbak(1): commands, their options (read from
# `hsmbak CMD --help`, so they follow the command tables), option values,
# crypto object names by type (from `hsmbak crypto show TYPE --names`, which
# reads the system root's object store and touches no token), and
# temporary:/// paths for backup sources and destinations.

# The system root the line names (--root DIR or --root=DIR), else $HSMBAK_ROOT.
_hsmbak_root() {
    local i root=${HSMBAK_ROOT:-}
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
        case ${words[i]} in
            --root) root=${words[i + 1]} ;;
            --root=*) root=${words[i]#--root=} ;;
        esac
    done
    printf '%s' "$root"
}

# Object names of one type: certificate, key or idcred.
_hsmbak_objects() {
    local root
    root=$(_hsmbak_root)
    [ -n "$root" ] || return 0
    hsmbak --root "$root" crypto show "$1" --names 2>/dev/null
}

# `hsmbak [CMD [SUB]] --help`, asked once per shell (a TAB then costs no
# process for it; a new shell sees a new hsmbak).
# _hsmbak_help_fill runs in the completion function itself (not in a $(...)
# subshell, whose assignments would be lost); _hsmbak_help prints.
declare -gA _hsmbak_help_cache 2>/dev/null || true
_hsmbak_help_fill() {
    local key="${*:-.}"
    [ -n "${_hsmbak_help_cache[$key]+set}" ] || _hsmbak_help_cache[$key]=$(hsmbak "$@" --help 2>/dev/null)
}
_hsmbak_help() {
    _hsmbak_help_fill "$@"
    printf '%s\n' "${_hsmbak_help_cache[${*:-.}]}"
}

# The options of a command, as its --help lists them.
_hsmbak_options() {
    _hsmbak_help "$@" | awk '/^options:/ { on = 1; next } /^$/ { on = 0 }
                             on && $1 ~ /^--/ { print $1 }'
}

# COMPREPLY += words (the completions of $cur among them).
_hsmbak_add() {
    local w
    while IFS= read -r w; do
        [ -n "$w" ] && COMPREPLY+=("$w")
    done < <(compgen -W "$1" -- "$cur")
}

# Object names of a type; a comma-separated list completes its last item
# (secure-backup CERT,CERT...).
_hsmbak_add_objects() {
    local type=$1 list=${2:-} prefix="" last=$cur name
    if [ -n "$list" ] && [[ $cur == *,* ]]; then
        prefix=${cur%,*},
        last=${cur##*,}
    fi
    while IFS= read -r name; do
        [[ -n $name && $name == "$last"* ]] && COMPREPLY+=("$prefix$name")
    done < <(_hsmbak_objects "$type")
}

# A backup directory: temporary:///NAME (its folder under the root) or a
# plain path. $1 = "dirs" for directories only.
_hsmbak_add_locations() {
    local root d
    root=$(_hsmbak_root)
    if [[ $cur == temporary:* ]]; then
        local rest=${cur#temporary:}
        rest=${rest#///}
        [ -n "$root" ] || return 0
        while IFS= read -r d; do
            COMPREPLY+=("temporary:///${d#"$root/temporary/"}/")
        done < <(compgen -d -- "$root/temporary/$rest")
    else
        [[ temporary:/// == "$cur"* ]] && COMPREPLY+=(temporary:///)
        while IFS= read -r d; do
            COMPREPLY+=("$d/")
        done < <(compgen -d -- "$cur")
    fi
    compopt -o nospace 2>/dev/null
}

# Appliance folders for dir URL and certificate files.
_hsmbak_add_urls() {
    local root folder rest f
    root=$(_hsmbak_root)
    if [[ $cur == *:* && -n $root ]]; then
        folder=${cur%%:*}
        rest=${cur#*:}
        rest=${rest#///}
        while IFS= read -r f; do
            [ -d "$f" ] && f=$f/
            COMPREPLY+=("$folder:///${f#"$root/$folder/"}")
        done < <(compgen -f -- "$root/$folder/$rest")
    else
        _hsmbak_add "cert:/// sharedcert:/// local:/// temporary:/// config:///"
        while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")
    fi
    compopt -o nospace 2>/dev/null
}

_hsmbak() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion -s -n : || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    fi
    COMPREPLY=()
    local globals="--root --module --pin-source --json --quiet --verbose --help --version"
    local overview
    _hsmbak_help_fill
    overview=$(_hsmbak_help)

    # The command words and the operands before the cursor, skipping
    # options and the values of those that take one.
    local i cmd="" sub="" nargs=0 w valued="" subs=""
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --root|--module|--pin-source) ((i++)) ;;
            --*=*|-?) ;;
            -*) if [ -n "$cmd" ]; then
                    _hsmbak_help_fill $cmd $sub
                    [ -n "$valued" ] || valued=" $(_hsmbak_valued $cmd $sub | tr '\n' ' ') "
                    [[ $valued == *" $w "* ]] && ((i++))
                fi ;;
            *) if [ -z "$cmd" ]; then
                   cmd=$w
                   subs=$(_hsmbak_subs "$cmd" <<< "$overview")
               elif [ -z "$sub" ] && [ -n "$subs" ]; then
                   sub=$w
               else
                   ((nargs++))
               fi ;;
        esac
    done

    case $prev in
        --root) _filedir -d 2>/dev/null || COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --module) _filedir so 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --pin-source) _hsmbak_add "file: env:"; compopt -o nospace 2>/dev/null; return ;;
        --compression) _hsmbak_add "zstd gzip none"; return ;;
        --key-type) _hsmbak_add "rsa:2048 rsa:3072 rsa:4096 ec:p256 ec:p384"
                    declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
                    return ;;
        --usage) _hsmbak_add "recipient signer"; return ;;
        --key-wrap) _hsmbak_add "rsa-oaep-sha256 rsa-oaep-sha1"; return ;;
        --profile) _hsmbak_add "appliance host"; _filedir xml 2>/dev/null; return ;;
        --signer)
            _hsmbak_add_objects certificate
            [ "$cmd" = inspect ] && _hsmbak_add_urls
            return ;;
        --idcred) _hsmbak_add_objects idcred; return ;;
        --ssh-identity|--ssh-known-hosts|--aws-shared-credentials-file|--aws-ca-bundle)
            _filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --aws-endpoint-url|--aws-region|--aws-profile|--custodian|--jobs|--keep|--days|--threshold|--cn|--o|--ou|--c|--st|--l|--file-name|--object-name|--name|--max-size|--token|--version)
            [ -n "$cmd" ] && return ;;
    esac

    if [ -z "$cmd" ]; then
        _hsmbak_add "$(_hsmbak_commands <<< "$overview") help $globals"
        return
    fi
    if [ -z "$sub" ] && [ -n "$subs" ]; then
        _hsmbak_add "$subs"
        return
    fi
    if [[ $cur == -* ]]; then
        _hsmbak_help_fill $cmd $sub
        _hsmbak_add "$(_hsmbak_options $cmd $sub) --help $globals"
        return
    fi

    # Operands, by command and position.
    case "$cmd${sub:+ $sub}" in
        "crypto certificate")
            case $nargs in
                0) _hsmbak_add_objects certificate ;;
                1) _hsmbak_add_urls ;;
            esac ;;
        "crypto key") [ "$nargs" -eq 0 ] && _hsmbak_add_objects key ;;
        "crypto idcred")
            case $nargs in
                0) _hsmbak_add_objects idcred ;;
                1) _hsmbak_add_objects key ;;
                2) _hsmbak_add_objects certificate ;;
            esac ;;
        "crypto backup-signer") [ "$nargs" -eq 0 ] && _hsmbak_add_objects idcred ;;
        "crypto trusted-signer") [ "$nargs" -eq 0 ] && _hsmbak_add_objects certificate ;;
        "crypto show"|"crypto delete")
            if [ "$nargs" -eq 0 ]; then
                _hsmbak_add "certificate key idcred"
            elif [ "$nargs" -eq 1 ]; then
                _hsmbak_add_objects "${words[cword - 1]}"
            fi ;;
        secure-backup)
            if [ "$nargs" -eq 0 ] && [[ $cur != */* && $cur != *:* ]]; then
                _hsmbak_add_objects certificate list
            fi
            [ ${#COMPREPLY[@]} -gt 0 ] || _hsmbak_add_locations ;;
        secure-restore)
            if [ "$nargs" -eq 0 ] && [[ " ${words[*]} " != *" --idcred "* ]]; then
                _hsmbak_add_objects idcred
            else
                _hsmbak_add_locations
            fi ;;
        inspect) _hsmbak_add_locations ;;
        dir) _hsmbak_add_urls ;;
        "ceremony import-cert")
            [ "$nargs" -eq 1 ] && { _filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur")); } ;;
        help) [ "$nargs" -eq 0 ] && _hsmbak_add "$(_hsmbak_commands <<< "$overview")"
              [ "$nargs" -eq 1 ] && _hsmbak_add "$(_hsmbak_subs "${words[cword - 1]}" <<< "$overview")" ;;
    esac
    declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
    return 0
}

# From `hsmbak --help` on stdin: the commands, and the subcommands of $1.
_hsmbak_commands() {
    awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort -u
}
_hsmbak_subs() {
    awk -v c="$1" '/^commands:/ { on = 1; next } /^$/ { on = 0 }
        on && $1 == c && $2 ~ /^[a-z][a-z-]*$/ { print $2 }'
}

# The options of a command that take a value: in its --help, a row
# "  --jobs N   ..." has one space between the option and its value.
_hsmbak_valued() {
    _hsmbak_help "$@" | awk '/^options:/ { on = 1; next } /^$/ { on = 0 }
        on && /^  --[a-z0-9-]+ [^ ]/ { print $1 }'
}
complete -F _hsmbak hsmbak
