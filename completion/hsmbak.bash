# bash completion for hsmbak(1): subcommands, options, and crypto object
# names (from `hsmbak crypto show --names`, which reads the system root's
# object store and touches no token).

_hsmbak_objects() {
    # $1: certificate|key|idcred; honours --root given earlier on the line.
    local root=() i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in
            --root) root=(--root "${COMP_WORDS[i + 1]}") ;;
            --root=*) root=("${COMP_WORDS[i]}") ;;
        esac
    done
    hsmbak "${root[@]}" crypto show "$1" --names 2>/dev/null
}

_hsmbak() {
    local cur prev words cword
    _init_completion -s 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    }
    local globals="--root --module --pin-source --json --quiet --verbose --help --version"
    local commands="token crypto secure-backup secure-restore dir factory-reset system ceremony"

    case $prev in
        --root) _filedir -d 2>/dev/null || COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --module) _filedir so 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --pin-source) COMPREPLY=($(compgen -W "file: env:" -- "$cur")); compopt -o nospace 2>/dev/null; return ;;
        --compression) COMPREPLY=($(compgen -W "zstd gzip none" -- "$cur")); return ;;
        --key-type) COMPREPLY=($(compgen -W "rsa:2048 rsa:3072 rsa:4096 ec:p256 ec:p384" -- "$cur")); return ;;
        --usage) COMPREPLY=($(compgen -W "recipient signer" -- "$cur")); return ;;
        --key-wrap) COMPREPLY=($(compgen -W "rsa-oaep-sha256 rsa-oaep-sha1" -- "$cur")); return ;;
        --profile) COMPREPLY=($(compgen -W "appliance host" -- "$cur")); return ;;
        --signer) COMPREPLY=($(compgen -W "$(_hsmbak_objects certificate)" -- "$cur")); return ;;
        --idcred) COMPREPLY=($(compgen -W "$(_hsmbak_objects idcred)" -- "$cur")); return ;;
        --jobs|--keep|--days|--threshold|--cn|--o|--ou|--c|--st|--l|--file-name|--object-name|--custodian|--max-size|--version|--token)
            return ;;
    esac

    # The command words, skipping global options and their values.
    local i cmd="" sub="" nargs=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --root|--module|--pin-source) ((i++)) ;;
            -*) ;;
            *) if [ -z "$cmd" ]; then cmd=${words[i]}
               elif [ -z "$sub" ]; then sub=${words[i]}
               else ((nargs++)); fi ;;
        esac
    done

    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "$commands $globals" -- "$cur"))
        return
    fi
    local opts=""
    case $cmd in
        token) [ -z "$sub" ] && { COMPREPLY=($(compgen -W "list" -- "$cur")); return; }
               opts="--token --login" ;;
        crypto)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "keygen certificate key idcred backup-signer trusted-signer show delete" -- "$cur"))
                return
            fi
            case $sub in
                keygen) opts="--cn --o --ou --c --st --l --token --key-type --usage --gen-sscert --days --csr --file-name --export-sscert --gen-object --object-name" ;;
                certificate) opts="--ignore-expiration --disable --key-wrap"
                    [ "$nargs" -eq 0 ] && [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "$(_hsmbak_objects certificate)" -- "$cur")); return; }
                    [ "$nargs" -eq 1 ] && [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "cert:/// sharedcert:/// temporary:///" -- "$cur")); compopt -o nospace 2>/dev/null; return; } ;;
                key) [ "$nargs" -eq 0 ] && { COMPREPLY=($(compgen -W "$(_hsmbak_objects key)" -- "$cur")); return; } ;;
                idcred)
                    case $nargs in
                        0) COMPREPLY=($(compgen -W "$(_hsmbak_objects idcred)" -- "$cur")) ;;
                        1) COMPREPLY=($(compgen -W "$(_hsmbak_objects key)" -- "$cur")) ;;
                        2) COMPREPLY=($(compgen -W "$(_hsmbak_objects certificate)" -- "$cur")) ;;
                    esac
                    return ;;
                backup-signer) COMPREPLY=($(compgen -W "$(_hsmbak_objects idcred)" -- "$cur")); return ;;
                trusted-signer) opts="--remove"
                    [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "$(_hsmbak_objects certificate)" -- "$cur")); return; } ;;
                show|delete)
                    if [ "$nargs" -eq 0 ]; then
                        COMPREPLY=($(compgen -W "certificate key idcred" -- "$cur"))
                    else
                        local type=${words[cword - 1]}
                        COMPREPLY=($(compgen -W "$(_hsmbak_objects "$type")" -- "$cur"))
                    fi
                    return ;;
            esac ;;
        secure-backup) opts="--compression --jobs --keep"
            if [[ $cur != -* ]] && [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_hsmbak_objects certificate)" -- "$cur")); return
            fi
            [[ $cur != -* ]] && { _filedir -d 2>/dev/null; return; } ;;
        secure-restore) opts="--validate --signer --max-size --idcred"
            if [[ $cur != -* ]] && [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "$(_hsmbak_objects idcred)" -- "$cur")); return
            fi
            [[ $cur != -* ]] && { _filedir -d 2>/dev/null; return; } ;;
        dir) COMPREPLY=($(compgen -W "cert:/// sharedcert:/// local:/// temporary:/// config:///" -- "$cur"))
             compopt -o nospace 2>/dev/null; return ;;
        factory-reset) opts="--yes" ;;
        system) [ -z "$sub" ] && { COMPREPLY=($(compgen -W "init" -- "$cur")); return; }
                opts="--profile --version" ;;
        ceremony)
            if [ -z "$sub" ]; then
                COMPREPLY=($(compgen -W "enroll import-cert retire quorum verify-transcript" -- "$cur"))
                return
            fi
            case $sub in
                enroll) opts="--token --custodian --cn --key-type --csr --days" ;;
                quorum) opts="--threshold" ;;
            esac ;;
    esac
    COMPREPLY=($(compgen -W "$opts --help $globals" -- "$cur"))
}
complete -F _hsmbak hsmbak
