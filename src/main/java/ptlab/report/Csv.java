package ptlab.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The studies' CSV files (RFC 4180): a header row of the JSON keys, then one line per row; a
 * field holding a comma or a quote is quoted, its quotes doubled; null is an empty field.
 */
final class Csv {

    private Csv() {
    }

    /** {@code rows} as CSV, each made into its ordered key/value columns by {@code columns}. */
    static <R> String of(List<R> rows, Function<R, ? extends Map<String, Object>> columns) {
        StringBuilder sb = new StringBuilder();
        boolean header = true;
        for (R r : rows) {
            Map<String, Object> m = columns.apply(r);
            if (header) {
                sb.append(String.join(",", m.keySet())).append('\n');
                header = false;
            }
            List<String> cells = new ArrayList<>();
            for (Object v : m.values()) {
                cells.add(field(v));
            }
            sb.append(String.join(",", cells)).append('\n');
        }
        return sb.toString();
    }

    private static String field(Object v) {
        String s = v == null ? "" : v.toString();
        return s.contains(",") || s.contains("\"") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }
}
