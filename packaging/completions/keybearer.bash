# bash completion for keybearer(1)                                    -*- shell-script -*-
# Commands, each command's options, --format values, and the profile names keybearer
# profiles lists. Works with or without the bash-completion package; with it,
# the command after `keybearer exec --` and curl's and wget's arguments complete as their own.

# The profile names, one a line, as keybearer itself lists them.
_keybearer_profiles()
{
	command keybearer profiles 2>/dev/null
}

# _keybearer_value OPTION: completes the value OPTION takes; false when it takes none.
_keybearer_value()
{
	case $1 in
	--profile | -p)
		COMPREPLY=($(compgen -W "$(_keybearer_profiles)" -- "$cur"))
		;;
	--format | -f)
		COMPREPLY=($(compgen -W "header token curl wget json" -- "$cur"))
		;;
	--min-ttl | --client-id | --token-url | --issuer | --audience | --scope | --resource | --env | --url)
		COMPREPLY=() # seconds, an id, a URL, an audience, a variable name: free text
		;;
	--auth-method)
		COMPREPLY=($(compgen -W "client_secret_post client_secret_basic client_secret_jwt" -- "$cur"))
		;;
	--ca-file | --private-key | --client-key | --out)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	*)
		return 1
		;;
	esac
}

# _keybearer_delegate WORD...: completes the last WORD as the completion of the command
# line WORD... would (the first is the command), when bash-completion is there to ask.
_keybearer_delegate()
{
	local offset=_command_offset IFS=' '
	local line="$*" # the words joined by spaces

	IFS=$' \t\n' # the callee splits its own words

	declare -F _comp_command_offset >/dev/null && offset=_comp_command_offset
	if ! declare -F "$offset" >/dev/null; then
		compopt -o default 2>/dev/null
		COMPREPLY=()
		return
	fi
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE=$line
	COMP_POINT=${#COMP_LINE}
	"$offset" 0
}

_keybearer()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev="" cword=$COMP_CWORD cmd start i
	local -a words=("${COMP_WORDS[@]}")
	local commands="get invalidate status profiles which check inspect login keygen logout git bazel kubectl cargo terraform pnpm httpie curl wget exec goauth help"
	local opts takes

	COMPREPLY=()
	# keybearer -v COMMAND ...: the command's words start after the -v
	while ((cword > 1)) && [[ ${words[1]} == @(-v|--verbose) ]]; do
		words=("${words[0]}" "${words[@]:2}")
		((cword--))
	done
	((cword > 0)) && prev=${words[cword - 1]}
	# COMP_WORDBREAKS holds '=': --profile=NAME arrives as three words
	if [[ $cur == = ]]; then
		cur=""
	elif [[ $prev == = ]] && ((cword > 1)); then
		prev=${words[cword - 2]}
	fi

	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "$commands --help -h --version --verbose -v" -- "$cur"))
		return 0
	fi
	cmd=${words[1]}

	case $cmd in
	get)
		opts="--profile --url --format --min-ttl --verbose --help"
		takes="--profile -p --url --format -f --min-ttl"
		;;
	invalidate)
		opts="--profile --token-stdin --verbose --help"
		takes="--profile -p"
		;;
	status)
		opts="--profile --json --verbose --help"
		takes="--profile -p"
		;;
	check | logout)
		opts="--profile --verbose --help"
		takes="--profile -p"
		;;
	keygen)
		opts="--profile --type --out --verbose --help"
		takes="--profile -p --type --out"
		;;
	profiles | which)
		opts="--verbose --help" # which's URL is free text
		takes=""
		;;
	inspect)
		opts="--profile --verify --audience --verbose --help -"
		takes="--profile -p --audience"
		;;
	login)
		opts="--profile --client-id --token-url --issuer --auth-method --scope --audience --resource --ca-file --no-verify --private-key --client-key --verbose --help"
		takes="--profile -p --client-id --token-url --issuer --auth-method --scope --audience --resource --ca-file --private-key --client-key"
		;;
	kubectl)
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "--profile --help" -- "$cur"))
		elif [[ $prev == --profile ]] && ((cword <= 4)); then
			_keybearer_value --profile
		fi
		return 0
		;;
	goauth)
		# --profile, repeatable; go adds the URL itself
		if [[ $prev == --profile ]]; then
			_keybearer_value --profile
		elif ((cword == 2)); then
			COMPREPLY=($(compgen -W "--profile --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--profile" -- "$cur"))
		fi
		return 0
		;;
	pnpm)
		if ((cword == 2)); then
			COMPREPLY=($(compgen -W "--profile --link --help" -- "$cur"))
		elif [[ $prev == --profile || $prev == --link ]] && ((cword == 3)); then
			_keybearer_value --profile
		elif [[ ${words[2]} == --link ]] && ((cword == 4)); then
			COMPREPLY=($(compgen -d -- "$cur"))
		fi
		return 0
		;;
	git | bazel | cargo | terraform | httpie | help)
		if ((cword == 2)); then
			case $cmd in
			git) opts="get store erase capability --help" ;;
			bazel) opts="get --help" ;;
			cargo) opts="--cargo-plugin --help" ;;
			terraform) opts="get forget --help" ;;
			httpie) opts="get erase --help" ;;
			help) opts=${commands% help} ;;
			esac
			COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		fi
		return 0 # terraform's HOST is free text
		;;
	exec)
		# keybearer's options up to --, then the command and its own completion
		for ((i = 2; i < cword; i++)); do
			case ${words[i]} in
			--)
				_keybearer_delegate "${words[@]:i+1:cword-i-1}" "$cur"
				return 0
				;;
			--profile | --env)
				[[ ${words[i + 1]} == = ]] && ((i++))
				((i++))
				;;
			esac
		done
		if [[ $prev == @(--profile|--env) ]]; then
			_keybearer_value "$prev"
		else
			COMPREPLY=($(compgen -W "--profile --token-file --env --" -- "$cur"))
		fi
		return 0
		;;
	curl | wget)
		# [--profile P] [--], then the tool's arguments as the tool completes them
		if [[ $prev == --profile && ${words[2]} == --profile ]] && ((cword <= 4)); then
			_keybearer_value --profile
			return 0
		fi
		start=2
		if [[ ${words[2]} == --profile=* ]] && ((cword > 2)); then
			start=3
		elif [[ ${words[2]} == --profile ]] && ((cword > 2)); then
			start=4
			[[ ${words[3]} == = ]] && start=5
		fi
		if [[ ${words[start]} == -- ]] && ((cword > start)); then
			((start++))
		fi
		_keybearer_delegate "$cmd" "${words[@]:start:cword-start}" "$cur"
		if ((cword == 2)); then
			COMPREPLY+=($(compgen -W "--profile -- --help" -- "$cur"))
		fi
		return 0
		;;
	*)
		return 0
		;;
	esac

	if [[ " $takes " == *" $prev "* ]] && _keybearer_value "$prev"; then
		return 0
	fi
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	return 0
}

complete -F _keybearer keybearer
