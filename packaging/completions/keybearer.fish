# fish completion for keybearer(1): commands, each command's options, --format values, and
# the profile names keybearer profiles lists; the command after
# `keybearer exec --` and curl's and wget's arguments complete as their own.

# The profile names, as keybearer itself lists them.
function __keybearer_profiles
    command keybearer profiles 2>/dev/null
end

# The words typed so far without keybearer's leading -v/--verbose: the command is $words[2].
function __keybearer_words
    set -l words (commandline -opc)
    while set -q words[2]; and contains -- $words[2] -v --verbose
        set -e words[2]
    end
    printf '%s\n' $words
end

# True when the command (the first word after keybearer) is one of the arguments.
function __keybearer_command_is
    set -l words (__keybearer_words)
    set -q words[2]; and contains -- $words[2] $argv
end

# True when no command is given yet.
function __keybearer_needs_command
    set -l words (__keybearer_words)
    not set -q words[2]
end

# True when the word being completed is the Nth argument of the command (1: just after it).
function __keybearer_argument_is
    set -l words (__keybearer_words)
    test (count $words) -eq (math $argv[1] + 1)
end

# True at the first argument of the command, and at the value of a --profile given there.
function __keybearer_first_argument
    set -l words (__keybearer_words)
    test (count $words) -eq 2; or begin
        test (count $words) -eq 3; and test "$words[3]" = --profile
    end
end

# The words after keybearer's own options of exec (after its --) or of curl and wget
# ([--profile P] [--]), and the word being completed; nothing while keybearer's options are
# completed.
function __keybearer_delegated_words
    set -l words (__keybearer_words)
    set -l i 3
    switch $words[2]
        case exec
            while test $i -le (count $words)
                if test "$words[$i]" = --
                    set -l rest $words[(math $i + 1)..-1]
                    set -q rest[1]; and printf '%s\n' $rest
                    return 0
                end
                set i (math $i + 1)
            end
            return 1
        case curl wget
            if string match -q -- '--profile=*' "$words[3]"
                set i 4
            else if test "$words[3]" = --profile
                set i 5
            end
            if test (count $words) -ge $i; and test "$words[$i]" = --
                set i (math $i + 1)
            end
            test (count $words) -ge (math $i - 1); or return 1
            echo $words[2]
            if test (count $words) -ge $i
                printf '%s\n' $words[$i..-1]
            end
            return 0
    end
    return 1
end

# Completes the current word as the delegated command line would.
function __keybearer_complete_delegated
    set -l words (__keybearer_delegated_words)
    set -l line (string join ' ' -- (string escape -- $words)) (commandline -ct)
    complete -C (string join ' ' -- $line)
end

function __keybearer_delegating
    __keybearer_delegated_words >/dev/null
end

complete -c keybearer -f

# keybearer itself
complete -c keybearer -n __keybearer_needs_command -s h -l help -d 'List the commands and the exit codes'
complete -c keybearer -n __keybearer_needs_command -l version -d 'Print the version'
complete -c keybearer -n __keybearer_needs_command -s v -l verbose -d 'Timings, attempts and decisions on stderr'
complete -c keybearer -n __keybearer_needs_command -a get -d 'Print a valid token (from the cache, or freshly minted)'
complete -c keybearer -n __keybearer_needs_command -a invalidate -d 'Drop the cached token'
complete -c keybearer -n __keybearer_needs_command -a status -d 'Show profiles, secret sources and token lifetimes'
complete -c keybearer -n __keybearer_needs_command -a profiles -d 'List the profile names, one a line'
complete -c keybearer -n __keybearer_needs_command -a which -d 'Show the profile whose urls claim a URL'
complete -c keybearer -n __keybearer_needs_command -a check -d 'Check the setup step by step: config, secret, one mint'
complete -c keybearer -n __keybearer_needs_command -a inspect -d 'Decode the cached (or stdin) JWT'
complete -c keybearer -n __keybearer_needs_command -a login -d 'Store a client secret in the OS keyring (rotation too)'
complete -c keybearer -n __keybearer_needs_command -a keygen -d 'Make a key pair for private_key_jwt, keep the private key'
complete -c keybearer -n __keybearer_needs_command -a logout -d 'Remove a stored client secret and the cached token'
complete -c keybearer -n __keybearer_needs_command -a git -d 'git credential helper (credential.helper)'
complete -c keybearer -n __keybearer_needs_command -a bazel -d 'Bazel credential helper (--credential_helper)'
complete -c keybearer -n __keybearer_needs_command -a kubectl -d 'kubectl exec credential plugin (ExecCredential)'
complete -c keybearer -n __keybearer_needs_command -a cargo -d 'cargo credential provider (protocol v1)'
complete -c keybearer -n __keybearer_needs_command -a terraform -d 'Terraform credentials helper'
complete -c keybearer -n __keybearer_needs_command -a pnpm -d 'pnpm tokenHelper (a link keybearer-pnpm-PROFILE in ~/.npmrc)'
complete -c keybearer -n __keybearer_needs_command -a httpie -d "HTTPie auth plugin's helper (http -A keybearer URL)"
complete -c keybearer -n __keybearer_needs_command -a curl -d 'Run curl with the token, retrying once after a 401'
complete -c keybearer -n __keybearer_needs_command -a wget -d 'Run wget with the token, retrying once after a 401'
complete -c keybearer -n __keybearer_needs_command -a exec -d 'Run a command with the token in an environment variable or a file'
complete -c keybearer -n __keybearer_needs_command -a goauth -d 'Go modules authentication command (GOAUTH, Go 1.24 and later)'
complete -c keybearer -n __keybearer_needs_command -a help -d 'Describe a command'

# help COMMAND
complete -c keybearer -n '__keybearer_command_is help; and __keybearer_argument_is 1' \
    -a 'get invalidate status profiles which check inspect login keygen logout git bazel kubectl cargo terraform pnpm httpie curl wget exec goauth'

# get, invalidate, status, profiles, which, check, inspect, login, logout
complete -c keybearer -n '__keybearer_command_is get invalidate status profiles which check inspect login keygen logout' \
    -l help -d 'Describe the command'
complete -c keybearer -n '__keybearer_command_is get invalidate status profiles which check inspect login keygen logout' \
    -s v -l verbose -d 'Timings, attempts and decisions on stderr'
complete -c keybearer -n '__keybearer_command_is get invalidate status check inspect login keygen logout' \
    -s p -l profile -x -a '(__keybearer_profiles)' -d 'The profile'
complete -c keybearer -n '__keybearer_command_is get' -l url -x \
    -d 'The token of the profile whose urls claim this URL'
complete -c keybearer -n '__keybearer_command_is status' -l json -d 'The same facts as JSON'
complete -c keybearer -n '__keybearer_command_is get' -s f -l format -x \
    -a 'header\t"Authorization: Bearer TOKEN (the default)" token\t"The token alone" curl\t"A line for curl -K" wget\t"A line for wget --config" json\t"access_token, token_type, expires_at, expires_in"' \
    -d 'What to print'
complete -c keybearer -n '__keybearer_command_is get' -l min-ttl -x \
    -d 'The token must stay valid at least this many more seconds'
complete -c keybearer -n '__keybearer_command_is invalidate' -l token-stdin \
    -d 'Drop it only if it is the token on stdin'
complete -c keybearer -n '__keybearer_command_is inspect' -a - -d 'The token on stdin'
complete -c keybearer -n '__keybearer_command_is inspect' -l verify \
    -d 'Verify the signature against the JWKS, the expiry and the audience'
complete -c keybearer -n '__keybearer_command_is inspect' -l audience -x \
    -d 'With --verify: the audience the token must name'
complete -c keybearer -n '__keybearer_command_is login' -l client-id -x \
    -d 'The client id, when the profile has none'
complete -c keybearer -n '__keybearer_command_is login' -l token-url -x \
    -d 'The token endpoint of a new profile'
complete -c keybearer -n '__keybearer_command_is login' -l issuer -x \
    -d 'An OpenID Connect issuer instead of a token endpoint'
complete -c keybearer -n '__keybearer_command_is login' -l auth-method -x \
    -a 'client_secret_post client_secret_basic client_secret_jwt' -d 'How the client authenticates'
complete -c keybearer -n '__keybearer_command_is login' -l scope -x -d "The profile's scope"
complete -c keybearer -n '__keybearer_command_is login' -l audience -x -d "The profile's audience"
complete -c keybearer -n '__keybearer_command_is login' -l resource -x -d "The profile's resource"
complete -c keybearer -n '__keybearer_command_is login' -l ca-file -r \
    -d 'The CAs to trust for the token endpoint'
complete -c keybearer -n '__keybearer_command_is login' -l no-verify \
    -d 'Store without minting a token first'

# the host tools' protocols
complete -c keybearer -n '__keybearer_command_is git bazel kubectl cargo terraform pnpm httpie curl wget goauth; and __keybearer_argument_is 1' \
    -l help -d 'Describe the command'
complete -c keybearer -n '__keybearer_command_is git; and __keybearer_argument_is 1' \
    -a 'get\t"Answer with the token" store\tIgnored erase\t"Drop the token git erases" capability\t"Announce authtype"'
complete -c keybearer -n '__keybearer_command_is bazel; and __keybearer_argument_is 1' \
    -a 'get\t"Answer with the headers for a URI"'
complete -c keybearer -n '__keybearer_command_is cargo; and __keybearer_argument_is 1' \
    -l cargo-plugin -d 'The argument cargo passes to credential providers'
complete -c keybearer -n '__keybearer_command_is terraform; and __keybearer_argument_is 1' \
    -a 'get\t"Answer with the token for HOST" forget\t"Drop the cached token"'
complete -c keybearer -n '__keybearer_command_is httpie; and __keybearer_argument_is 1' \
    -a 'get\t"The token for the URL on stdin" erase\t"Drop the refused token on stdin"'
complete -c keybearer -n '__keybearer_command_is pnpm; and __keybearer_first_argument' \
    -l profile -x -a '(__keybearer_profiles)' -d 'The profile'
complete -c keybearer -n '__keybearer_command_is pnpm; and __keybearer_first_argument' \
    -l link -x -a '(__keybearer_profiles)' -d 'Make the link keybearer-pnpm-PROFILE'
complete -c keybearer -n '__keybearer_command_is kubectl; and __keybearer_first_argument' \
    -l profile -x -a '(__keybearer_profiles)' -d 'The profile'
complete -c keybearer -n '__keybearer_command_is goauth' \
    -l profile -x -a '(__keybearer_profiles)' -d 'A profile to answer for (repeatable)'

# curl|wget [--profile P] [--] ARGS: keybearer's options first, then the tool's own completion
complete -c keybearer -n '__keybearer_command_is curl wget; and __keybearer_first_argument' \
    -l profile -x -a '(__keybearer_profiles)' -d 'The profile (default: the one whose urls claim the URLs)'
complete -c keybearer -n '__keybearer_command_is curl; and __keybearer_argument_is 1' \
    -a -- -d "End of keybearer's options: curl's follow"
complete -c keybearer -n '__keybearer_command_is wget; and __keybearer_argument_is 1' \
    -a -- -d "End of keybearer's options: wget's follow"

# exec [--profile P] [--token-file] [--env NAME] -- COMMAND: the options up to --, then the command's own
complete -c keybearer -n '__keybearer_command_is exec; and not __keybearer_delegating' \
    -l profile -x -a '(__keybearer_profiles)' -d 'The profile'
complete -c keybearer -n '__keybearer_command_is exec; and not __keybearer_delegating' \
    -l token-file -d 'A file kept fresh instead of the token, its path in the variable'
complete -c keybearer -n '__keybearer_command_is exec; and not __keybearer_delegating' \
    -l env -x -d 'The variable that holds the token, or with --token-file its file'
complete -c keybearer -n '__keybearer_command_is exec; and not __keybearer_delegating' \
    -a -- -d 'End of the options: the command follows'

complete -c keybearer -n '__keybearer_command_is exec curl wget; and __keybearer_delegating' \
    -a '(__keybearer_complete_delegated)'
# keygen, and login's key
complete -c keybearer -n '__keybearer_command_is keygen' -l type -x -a 'ec rsa' -d 'The key type'
complete -c keybearer -n '__keybearer_command_is keygen' -l out -r -F -d 'Keep the private key in this file'
complete -c keybearer -n '__keybearer_command_is login' -l private-key -r -F -d 'Store this PEM private key (- for stdin)'
complete -c keybearer -n '__keybearer_command_is login' -l client-key -r -F -d 'Store the PEM key of client_cert (- for stdin)'
