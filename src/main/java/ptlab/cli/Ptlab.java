package ptlab.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ptlab}: the command-line entry point, and the one place that turns what went wrong into
 * an exit code (DESIGN.md, command-line contract):
 * <ul>
 *   <li>0 success;
 *   <li>1 an invariant violation was found;
 *   <li>2 bad input or environment: a bad option ({@link UsageException}, picocli's parameter
 *       errors), unreadable input or unwritable output (I/O errors, naming the file), out of
 *       memory (naming the heap setting and the options that size the run);
 *   <li>3 internal error: anything else, one line asking for a report.
 * </ul>
 * Always one line on stderr; the stack trace only with {@code --debug} or {@code PTLAB_DEBUG=1}.
 * Output that could not be written (a full disk, a closed pipe) is an error too: {@link #main}
 * checks stdout before it exits.
 */
@Command(name = "ptlab",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "A laboratory for kernel page-table algorithms on a bit-accurate x86 MMU model.",
        footer = {"", "Examples:", "  ptlab demo", "  ptlab help explore",
                "  ptlab layout --arch x86-32-pae --vmsplit 1G --ram 512M",
                "Full reference: docs/cli.md (exit codes, files, JSON keys, trace grammar)."})
// No `subcommands` here: commandLine(List) adds them, from SUBCOMMANDS, only as far as a command line needs.
public final class Ptlab implements Runnable {

    /** The subcommands, in the order {@code ptlab --help} lists them. */
    static final List<Class<?>> SUBCOMMANDS = List.of(
            DemoCommand.class,
            MmuCommand.class,
            LayoutCommand.class,
            ExploreCommand.class,
            ReplayCommand.class,
            ExperimentCommand.class,
            ReportCommand.class,
            ServeCommand.class,
            TraceCommand.class,
            PtdumpCommand.class,
            BenchCommand.class,
            HelpCommand.class,
            GenDocsCommand.class);

    /** Subcommands that read the whole tree: {@code help} lists and finds its siblings, {@code gen-docs} documents them. */
    private static final Set<Class<?>> READS_THE_TREE = Set.of(HelpCommand.class, GenDocsCommand.class);

    public static final int EXIT_OK = 0;
    public static final int EXIT_VIOLATION = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_INTERNAL = 3;

    /** The exit-code table of every command's --help (and README, docs/cli.md). */
    static final Map<String, String> EXIT_CODES = exitCodes();

    private static Map<String, String> exitCodes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("0", "success");
        m.put("1", "an invariant violation was found");
        m.put("2", "bad input or environment: bad option, unreadable input, unwritable output, out of memory "
                + "(one line on stderr naming it)");
        m.put("3", "internal error (one line; the stack trace with --debug or PTLAB_DEBUG=1)");
        m.put("130", "interrupted by Ctrl-C (the partial result is printed)");
        return m;
    }

    @CommandLine.Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "on an error, print the stack trace too (also PTLAB_DEBUG=1)")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new FileOutputStream(FileDescriptor.out), new FileOutputStream(FileDescriptor.err),
                System.getenv()));
    }

    /**
     * Runs the command line on byte streams, as {@link #main} does: after the command, a write
     * to {@code stdout} that failed (disk full, closed pipe) turns the exit code into 2 with one
     * line naming the reason, so no output is lost silently.
     */
    static int run(String[] args, OutputStream stdout, OutputStream stderr, Map<String, String> env) {
        WriteErrors so = new WriteErrors(stdout);
        PrintWriter out = new PrintWriter(new OutputStreamWriter(so), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(stderr), true);
        int code = execute(args, out, err, env);
        if (out.checkError()) {
            err.println("ptlab: cannot write standard output: " + so.reason());
            return EXIT_BAD_INPUT;
        }
        return code;
    }

    /** Runs the command line with the given streams; returns the exit code (used by tests too). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, Map.of());
    }

    static int execute(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        return execute(commandLineFor(args), args, out, err, env);
    }

    /** Runs {@code args} on the tree {@code cl} (tests compare a partial tree with the whole one). */
    static int execute(CommandLine cl, String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        cl.setOut(out);
        cl.setErr(err);
        boolean debugEnv = "1".equals(env.get("PTLAB_DEBUG"));
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> report(ex, c, debugEnv || debug(parseResult)));
        cl.setExecutionStrategy(parseResult -> {
            try {
                return new CommandLine.RunLast().execute(parseResult);
            } catch (OutOfMemoryError | StackOverflowError e) {   // Errors pass picocli's handler by
                CommandLine leaf = parseResult.asCommandLineList().get(parseResult.asCommandLineList().size() - 1);
                return report(e, leaf, debugEnv || debug(parseResult));
            }
        });
        return cl.execute(args);
    }

    /** The command tree with the error rules, the exit-code table and --debug on every command. */
    public static CommandLine commandLine() {
        return commandLine(SUBCOMMANDS);
    }

    /**
     * The part of the tree this command line can reach. picocli builds a command's model from its
     * annotations by reflection, one annotation proxy at a time, and most of {@code ptlab}'s start
     * went into building all thirteen subcommands with their own subcommands and options, whichever
     * one was run. Now: a first word that names a subcommand gets only that subcommand (with its
     * own subcommands), except those that read the whole tree; {@code --version} alone gets none;
     * anything else (no command, {@code --help}, a misspelt command and its "did you mean")
     * the whole tree. What is printed is the same either way ({@code PtlabTreeTest}).
     */
    static CommandLine commandLineFor(String[] args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            return commandLine(List.of());
        }
        if (args.length >= 1) {
            for (Class<?> sub : SUBCOMMANDS) {
                if (sub.getAnnotation(Command.class).name().equals(args[0])) {
                    return READS_THE_TREE.contains(sub) ? commandLine() : commandLine(List.of(sub));
                }
            }
        }
        return commandLine();
    }

    /** The tree with the given subcommands; picocli's handlers and settings are applied after they are added. */
    static CommandLine commandLine(List<Class<?>> subcommands) {
        CommandLine cl = new CommandLine(new Ptlab());
        for (Class<?> sub : subcommands) {
            cl.addSubcommand(sub);
        }
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            String msg = ex.getMessage();
            if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                msg += "; did you mean " + String.join(" or ", u.getSuggestions()) + "?";
            }
            c.getErr().println(c.getCommandSpec().qualifiedName() + ": " + msg.replace('\n', ' ').strip());
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> report(ex, c, debug(parseResult)));
        applyToAll(cl);
        return cl;
    }

    private static void applyToAll(CommandLine c) {
        c.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
        c.getCommandSpec().usageMessage().sortOptions(false);
        for (CommandLine sub : c.getSubcommands().values()) {
            applyToAll(sub);
        }
    }

    private static boolean debug(CommandLine.ParseResult pr) {
        for (CommandLine.ParseResult p = pr; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--debug")) {
                return true;
            }
        }
        return false;
    }

    /**
     * One line on stderr for what went wrong, and the exit code it means (see the class comment).
     * Wrappers (a worker thread's ExecutionException, UncheckedIOException) are looked through.
     */
    static int report(Throwable ex, CommandLine c, boolean debug) {
        Throwable t = unwrap(ex);
        String who = c.getCommandSpec().qualifiedName();
        PrintWriter err = c.getErr();
        int code;
        String msg;
        if (t instanceof UsageException || t instanceof CommandLine.ParameterException) {
            code = EXIT_BAD_INPUT;
            msg = t.getMessage();
        } else if (t instanceof IOException io) {
            code = EXIT_BAD_INPUT;
            msg = CliFiles.describe(io);
        } else if (t instanceof OutOfMemoryError) {
            code = EXIT_BAD_INPUT;
            String options = c.getCommand() instanceof SizesTheRun s ? s.sizingOptions() : null;
            msg = "out of memory (Java heap): "
                    + (options == null ? "" : "make the run smaller (" + options + ") or ")
                    + "give Java more heap, e.g. PTLAB_JAVA_OPTS=-Xmx8g (the default is a quarter of RAM)";
        } else {
            code = EXIT_INTERNAL;
            msg = "internal error (" + t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": "
                    + t.getMessage()) + "); please report it with the command line"
                    + (debug ? "" : " and the stack trace from --debug");
        }
        err.println(who + ": " + String.valueOf(msg).replace('\n', ' ').strip());
        if (debug && !(t instanceof UsageException || t instanceof CommandLine.ParameterException)) {
            ex.printStackTrace(err);   // a user error's trace shows nothing of use
        }
        err.flush();
        return code;
    }

    private static Throwable unwrap(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.ExecutionException
                || t instanceof java.util.concurrent.CompletionException || t instanceof UncheckedIOException
                || t instanceof CommandLine.ExecutionException)) {
            t = t.getCause();
        }
        return t;
    }

    /** A command whose run can outgrow the heap names the options that size it, for the OOM message. */
    interface SizesTheRun {
        String sizingOptions();
    }

    /** Remembers the first write error of stdout, which PrintWriter reports only as a flag. */
    static final class WriteErrors extends java.io.FilterOutputStream {
        private IOException first;

        WriteErrors(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                remember(e);
                throw e;
            }
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (IOException e) {
                remember(e);
                throw e;
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (IOException e) {
                remember(e);
                throw e;
            }
        }

        private void remember(IOException e) {
            if (first == null) {
                first = e;
            }
        }

        String reason() {
            return first == null ? "write error" : first instanceof CharacterCodingException ? "not encodable"
                    : String.valueOf(first.getMessage());
        }
    }
}
