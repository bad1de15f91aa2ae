package ptlab.cli;

import java.util.function.Supplier;

/**
 * Bad input from the user or the environment (a bad option value, an unreadable input file, an
 * unwritable output): reported as one line on stderr naming the problem, exit code 2, no stack
 * trace. This is the only exception type the CLI reports as a user error; any other exception
 * is an internal error (exit 3), so a bug never passes for the user's fault (issue 11, item 12).
 */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }

    /**
     * Runs a lower layer's parser of one user-given value ({@code PagingMode.fromCliName},
     * {@code Scenarios.byName}, {@code Schedule.load} …). Those report a bad value with an
     * IllegalArgumentException whose message names it; here, and only here, that becomes a
     * user error.
     */
    public static <T> T userInput(Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
