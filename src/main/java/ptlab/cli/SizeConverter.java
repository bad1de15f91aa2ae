package ptlab.cli;

import java.util.Locale;

import picocli.CommandLine;

/**
 * picocli converter for sizes: plain bytes ({@code 4096}) or a number with a binary suffix
 * K, M, G, T, P (optionally followed by {@code iB} or {@code B}): {@code 64K}, {@code 512M},
 * {@code 4G}, {@code 1T}. Anything else, zero, negative or overflowing is a
 * {@link CommandLine.TypeConversionException}, reported as a one-line error with exit code 2.
 */
public final class SizeConverter implements CommandLine.ITypeConverter<Long> {

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    public static long parse(String value) {
        if (value == null) {
            throw bad(value);
        }
        String s = value.trim().replace("_", "").toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                case 'P' -> shift = 50;
                default -> shift = -1;
            }
            if (shift >= 0) {
                s = s.substring(0, s.length() - 1);
            } else {
                shift = 0;
            }
        }
        if (s.isEmpty() || !s.chars().allMatch(Character::isDigit)) {
            throw bad(value);
        }
        long n;
        try {
            n = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw bad(value);
        }
        if (n == 0) {
            throw new CommandLine.TypeConversionException("a size must be positive, got '" + value + "'");
        }
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too large (at most 8E, 2^63-1 bytes)");
        }
        return n << shift;
    }

    private static CommandLine.TypeConversionException bad(String value) {
        return new CommandLine.TypeConversionException("'" + value
                + "' is not a size (expected bytes or a number with K, M, G, T or P, e.g. 512M)");
    }
}
