package ptlab.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The studies' CSV: a header of the keys, fields with commas or quotes quoted, null empty. */
class CsvTest {

    private static Map<String, Object> row(Object a, Object b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", a);
        m.put("faults_per_s", b);
        return m;
    }

    @Test
    void headerOnceThenOneLinePerRowWithQuoting() {
        String csv = Csv.of(List.of(row("per-vma", 1.5), row("a,b", null), row("say \"x\"", 3)), r -> r);
        assertEquals("path,faults_per_s\nper-vma,1.5\n\"a,b\",\n\"say \"\"x\"\"\",3\n", csv);
    }

    @Test
    void noRowsNoHeader() {
        assertEquals("", Csv.of(List.<Map<String, Object>>of(), r -> r));
    }
}
