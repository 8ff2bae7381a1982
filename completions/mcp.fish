# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mcp_global_optspecs
    string join \n config= services= db= state-dir= json q/quiet v/verbose lock-wait= h/help V/version
end

function __fish_mcp_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mcp_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mcp_using_subcommand
    set -l cmd (__fish_mcp_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mcp -n "__fish_mcp_needs_command" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_needs_command" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_needs_command" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_needs_command" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_needs_command" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_needs_command" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_needs_command" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_needs_command" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp -n "__fish_mcp_needs_command" -s V -l version -d 'Print version'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "sync" -d 'Bring the registry and the runtime in line with the service files (for cron)'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "deploy" -d 'Roll out now: pull, then replace each component behind a health gate'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "status" -d 'Show desired against observed state and any drift'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "update" -d 'Roll out components whose image tag now points at a new digest (for cron)'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "logs" -d 'Print a component\'s logs'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "adopt" -d 'Record untracked containers in the registry as `ignore`'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "stop" -d 'Stop components now and mark them desired `stopped`'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "start" -d 'Start components now and mark them desired `running`'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "restart" -d 'Stop and start components now'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "history" -d 'Show what mcp did, newest first'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "validate" -d 'Check the service files and report every error; changes nothing'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "import" -d 'Write service files from another tool\'s format (a compose file)'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "export" -d 'Print the service files in another tool\'s format (Kubernetes YAML)'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "man" -d 'Print the man page (of mcp, or of one command)'
complete -c mcp -n "__fish_mcp_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -s j -l jobs -d 'Run up to N independent actions at once [default: twice the CPUs, at most 8]' -r
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l dry-run -d 'Print the plan with its causes and change nothing; exit 3 when something would change'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l prune -d 'Remove services whose file is gone (otherwise they are only reported)'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand sync" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l pull -d 'When to pull the image before replacing' -r -f -a "always\t''
missing\t''
never\t''"
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -s j -l jobs -d 'Run up to N independent rollouts at once [default: twice the CPUs, at most 8]' -r
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l all -d 'Deploy every service'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l direct -d 'Deploy directly on this host (the only mode; accepted for compatibility)'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand status" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand status" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand status" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand status" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand status" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand status" -l check -d 'Exit 3 when anything has drifted (or, with --health, is unhealthy)'
complete -c mcp -n "__fish_mcp_using_subcommand status" -l health -d 'Run each component\'s health check once and show the result'
complete -c mcp -n "__fish_mcp_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand status" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand status" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand status" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand update" -s j -l jobs -d 'Ask up to N registries and run up to N rollouts at once [default: 8 lookups; rollouts: twice the CPUs, at most 8]' -r
complete -c mcp -n "__fish_mcp_using_subcommand update" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand update" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand update" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand update" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand update" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand update" -l dry-run -d 'List the components whose tag moved, with old and new digest, and change nothing; exit 3 when any moved'
complete -c mcp -n "__fish_mcp_using_subcommand update" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand update" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand update" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand update" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l tail -d 'Print only the last N lines' -r
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l since -d 'Print only lines since T: a duration ago (10m), an RFC 3339 time (2026-11-26T10:00:00Z) or @UNIX seconds; for a VM, from the boot that was running at T' -r
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand logs" -s f -l follow -d 'Keep following the log'
complete -c mcp -n "__fish_mcp_using_subcommand logs" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand logs" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand logs" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand logs" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l all -d 'Adopt every untracked container'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l write-spec -d 'Also write a service definition for each adopted service'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand adopt" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand stop" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand stop" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand stop" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand stop" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand start" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand start" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand start" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand start" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand start" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand start" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand start" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand start" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand start" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand restart" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand restart" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand restart" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand restart" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand history" -s n -l limit -d 'Show at most N events' -r
complete -c mcp -n "__fish_mcp_using_subcommand history" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand history" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand history" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand history" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand history" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand history" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand history" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand history" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand history" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand validate" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand validate" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand validate" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand validate" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -f -a "compose" -d 'Turn a compose file into one service file: each compose service a component'
complete -c mcp -n "__fish_mcp_using_subcommand import; and not __fish_seen_subcommand_from compose help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l project -d 'The service name [default: the file\'s `name:`, else its directory\'s name]' -r
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l out -d 'Where to write <project>.toml [default: the services directory]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l dry-run -d 'Print the service file and the findings; write nothing'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l force -d 'Write despite errors, leaving out what cannot be mapped; replace an existing file'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from compose" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "compose" -d 'Turn a compose file into one service file: each compose service a component'
complete -c mcp -n "__fish_mcp_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -f -a "kube" -d 'Print Kubernetes YAML (a Pod per service, env in a Secret) for `podman kube play` or a cluster'
complete -c mcp -n "__fish_mcp_using_subcommand export; and not __fish_seen_subcommand_from kube help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l deployment -d 'A Deployment (one replica) per service instead of a bare Pod'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from kube" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "kube" -d 'Print Kubernetes YAML (a Pod per service, env in a Secret) for `podman kube play` or a cluster'
complete -c mcp -n "__fish_mcp_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand completions" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand completions" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand completions" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand man" -l config -d 'Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand man" -l services -d 'Directory of service definitions, one <service>.toml each' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand man" -l db -d 'SQLite registry file' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand man" -l state-dir -d 'State directory (VM state, lock file)' -r -F
complete -c mcp -n "__fish_mcp_using_subcommand man" -l lock-wait -d 'How long a mutating command waits for another mcp\'s lock, e.g. 30s, 2m' -r
complete -c mcp -n "__fish_mcp_using_subcommand man" -l json -d 'Print machine-readable JSON on stdout'
complete -c mcp -n "__fish_mcp_using_subcommand man" -s q -l quiet -d 'Print only changes and errors (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand man" -s v -l verbose -d 'Show each external command as it runs'
complete -c mcp -n "__fish_mcp_using_subcommand man" -s h -l help -d 'Print help'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "sync" -d 'Bring the registry and the runtime in line with the service files (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "deploy" -d 'Roll out now: pull, then replace each component behind a health gate'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "status" -d 'Show desired against observed state and any drift'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "update" -d 'Roll out components whose image tag now points at a new digest (for cron)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "logs" -d 'Print a component\'s logs'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "adopt" -d 'Record untracked containers in the registry as `ignore`'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "stop" -d 'Stop components now and mark them desired `stopped`'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "start" -d 'Start components now and mark them desired `running`'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "restart" -d 'Stop and start components now'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "history" -d 'Show what mcp did, newest first'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "validate" -d 'Check the service files and report every error; changes nothing'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "import" -d 'Write service files from another tool\'s format (a compose file)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "export" -d 'Print the service files in another tool\'s format (Kubernetes YAML)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "man" -d 'Print the man page (of mcp, or of one command)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and not __fish_seen_subcommand_from sync deploy status update logs adopt stop start restart history validate import export completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp -n "__fish_mcp_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "compose" -d 'Turn a compose file into one service file: each compose service a component'
complete -c mcp -n "__fish_mcp_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "kube" -d 'Print Kubernetes YAML (a Pod per service, env in a Secret) for `podman kube play` or a cluster'
