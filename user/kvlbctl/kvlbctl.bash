# bash completion for kvlbctl(8).                         -*- shell-script -*-
# Install as /usr/share/bash-completion/completions/kvlbctl.
# tests/cases/20-kvlbctl.sh checks that these lists match kvlbctl --help.

_kvlbctl_global="-j --json -p --pretty --pin-root -h --help -V --version"
_kvlbctl_objects="vip backend flows conns stats load hist policy prefix"
_kvlbctl_vip_verbs="add del list"
_kvlbctl_backend_verbs="add del drain weight list"
_kvlbctl_policy_verbs="show set reset"
_kvlbctl_prefix_verbs="list flush"
_kvlbctl_knobs="chunk_size prefix_depth hold_limit load_bound load_slack
walk_limit prefix affinity size affinity_header"
# Options of a command, by "OBJECT VERB" (or "OBJECT" for verb-less objects).
declare -A _kvlbctl_opts=(
	["backend drain"]="--undo"
	["flows"]="--limit"
	["conns"]="--limit --count"
	["stats"]="--reset"
	["prefix list"]="--limit"
	["hist"]="--vip"
)

# Run kvlbctl with the --pin-root the line being completed names.
_kvlbctl_run()
{
	kvlbctl ${_kvlbctl_pin:+--pin-root "$_kvlbctl_pin"} "$@" 2>/dev/null
}

_kvlbctl_vips()
{
	_kvlbctl_run vip list | awk 'NR > 1 { print $1 }'
}

_kvlbctl_backends()
{
	_kvlbctl_run backend list "$1" | awk 'NR > 1 { print $2 }'
}

_kvlbctl_reply()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
	# Addresses contain ':', which bash splits words on.
	if declare -F __ltrim_colon_completions >/dev/null; then
		__ltrim_colon_completions "$cur"
	fi
}

_kvlbctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local -a words=("${COMP_WORDS[@]}") pos=()
	local cword=$COMP_CWORD i w _kvlbctl_pin=

	# With bash-completion, rejoin ADDR:PORT words that bash split at ':'.
	if declare -F _get_comp_words_by_ref >/dev/null; then
		_get_comp_words_by_ref -n : cur prev words cword
	fi
	if [[ $prev == --pin-root ]]; then
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
	fi
	# The words before the cursor, without global options.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		--pin-root)
			((i++))
			_kvlbctl_pin=${words[i]}
			;;
		-*) ;;
		*) pos+=("$w") ;;
		esac
	done

	local obj=${pos[0]} verb=${pos[1]}
	if [[ $cur == -* ]]; then
		local key=$obj
		[[ $obj == vip || $obj == backend || $obj == policy || $obj == prefix ]] && key="$obj $verb"
		_kvlbctl_reply "$_kvlbctl_global ${_kvlbctl_opts[${key:-none}]}"
		return
	fi
	case ${#pos[@]} in
	0)
		_kvlbctl_reply "$_kvlbctl_objects"
		return
		;;
	1)
		case $obj in
		vip) _kvlbctl_reply "$_kvlbctl_vip_verbs" ;;
		backend) _kvlbctl_reply "$_kvlbctl_backend_verbs" ;;
		policy) _kvlbctl_reply "$_kvlbctl_policy_verbs" ;;
		prefix) _kvlbctl_reply "$_kvlbctl_prefix_verbs" ;;
		esac
		return
		;;
	esac

	case "$obj $verb" in
	"vip add")
		case ${#pos[@]} in
		3) _kvlbctl_reply "mode" ;;
		4) [[ $prev == mode ]] && _kvlbctl_reply "l4 http" ;;
		esac
		;;
	"policy set")
		# KNOB VALUE pairs: a knob name where a pair starts, else its values.
		if (((${#pos[@]} - 2) % 2 == 0)); then
			_kvlbctl_reply "$_kvlbctl_knobs"
		else
			case $prev in
			prefix | affinity) _kvlbctl_reply "on off" ;;
			affinity_header) _kvlbctl_reply "none" ;;
			esac
		fi
		;;
	"vip del")
		((${#pos[@]} == 2)) && _kvlbctl_reply "$(_kvlbctl_vips)"
		;;
	"load "*)
		((${#pos[@]} == 1)) && _kvlbctl_reply "$(_kvlbctl_vips)"
		;;
	"hist "*)
		if [[ $prev == --vip ]]; then
			_kvlbctl_reply "$(_kvlbctl_vips)"
		elif ((${#pos[@]} == 1)); then
			_kvlbctl_reply "$(_kvlbctl_run backend list | awk 'NR > 1 { print $2 }' | sort -u)"
		fi
		;;
	"backend add" | "backend del" | "backend drain" | "backend weight" | "backend list")
		case ${#pos[@]} in
		2) _kvlbctl_reply "$(_kvlbctl_vips)" ;;
		3) [[ $verb != add && $verb != list ]] &&
			_kvlbctl_reply "$(_kvlbctl_backends "${pos[2]}")" ;;
		4) [[ $verb == add ]] && _kvlbctl_reply "weight" ;;
		esac
		;;
	esac
}
complete -F _kvlbctl kvlbctl
