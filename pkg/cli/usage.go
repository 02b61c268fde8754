package cli

// VersionString is the release; the Makefile may set it with -ldflags -X.
var VersionString = "1.0.0"

const versionNote = "eroute: the KLIPS eroute command on the Linux XFRM policy table."

const usage = `usage: eroute --{add,addin,replace,replacein} --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ --transport-proto <protocol> ] [ --src-port <source-port> ] [ --dst-port <dest-port> ] <SA>
            where <SA> is '--af <inet | inet6> --edst <edst> --spi <spi> --proto <proto>'
                       OR '--said <said>'
                       OR '--said <%passthrough | %passthrough4 | %passthrough6 | %drop | %reject | %trap | %hold | %pass>'.
            --replace and --replacein also take [ --force ]: replace a policy eroute did not make.
       eroute --del --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ --transport-proto <protocol> ] [ --src-port <source-port> ] [ --dst-port <dest-port> ] [ --force ]
       eroute --delin --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ ... as --del ]
            instead of ports: [ --icmp-type <type> ] [ --icmp-code <code> ] (protocol 1 or 58), [ --gre-key <key> ] (47), [ --mh-type <type> ] (135).
       eroute --clear [ --all ]
       eroute --monitor [ --json ] [ --hold-timeout <seconds> ] [ --exec <command> [ --exec-max <n> (8) ] [ --exec-queue <n> (64) ] [ --exec-timeout <seconds> (60) ] ] [ --rcvbuf <bytes> ] [ --all ]
       eroute --batch <file|->
       eroute --sync <file|-> [ --dry-run ] [ --all ] [ --json ] [ --detailed-exitcode ]
       eroute --save [ --all ]
       eroute [ --json ]
       eroute --help
       eroute --version
        [ --debug ] is optional to any eroute command.
        [ --label <label> ] is optional to any eroute command.
        [ --netns <name> ] is optional to any eroute command: act on that network namespace (as 'ip netns' names it).
`
