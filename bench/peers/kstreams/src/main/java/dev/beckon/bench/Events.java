package dev.beckon.bench;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads Beckon's behavioural events (schemas/event.avsc) from their wire
 * form, Avro single-object encoding, by hand: the peer keeps to what
 * kafka-streams brings, and the fields are read in the schema's order
 * exactly as an Avro library would with the writer's schema.
 */
final class Events {
    private Events() {}

    /** The fields of an event the cart application reads. */
    static final class Event {
        String name; // null for identify events
        String userId;
        String properties; // JSON object text
    }

    /** Decodes an Event; throws IllegalArgumentException on bad bytes. */
    static Event decode(byte[] b) {
        if (b == null || b.length < 10 || (b[0] & 0xff) != 0xC3 || b[1] != 0x01) {
            throw new IllegalArgumentException("not Avro single-object encoding");
        }
        Reader r = new Reader(b, 10); // marker and the 8-byte schema fingerprint
        Event e = new Event();
        r.string(); // message_id
        r.varlong(); // type (enum)
        e.name = r.optionalString(); // event
        e.userId = r.string(); // user_id
        r.optionalString(); // anonymous_id
        r.varlong(); // timestamp
        e.properties = r.string(); // properties
        // context and session_id follow; the application does not read them.
        return e;
    }

    private static final class Reader {
        final byte[] b;
        int off;

        Reader(byte[] b, int off) {
            this.b = b;
            this.off = off;
        }

        long varlong() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (off >= b.length) {
                    throw new IllegalArgumentException("truncated varint");
                }
                int x = b[off++] & 0xff;
                v |= (long) (x & 0x7f) << shift;
                if ((x & 0x80) == 0) {
                    return (v >>> 1) ^ -(v & 1); // zig-zag
                }
            }
            throw new IllegalArgumentException("varint too long");
        }

        String string() {
            long n = varlong();
            if (n < 0 || n > b.length - off) {
                throw new IllegalArgumentException("string of " + n + " bytes with " + (b.length - off) + " left");
            }
            String s = new String(b, off, (int) n, StandardCharsets.UTF_8);
            off += (int) n;
            return s;
        }

        String optionalString() {
            long branch = varlong();
            if (branch == 0) {
                return null;
            }
            if (branch != 1) {
                throw new IllegalArgumentException("union branch " + branch);
            }
            return string();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Parses an event's properties (a JSON object) with Jackson, which
     * kafka-streams brings along; throws IllegalArgumentException when they
     * are not a JSON object.
     */
    static JsonNode properties(String json) {
        try {
            JsonNode n = JSON.readTree(json);
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException("properties are not a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("properties: " + e.getOriginalMessage());
        }
    }

    /** Quotes s as a JSON string. */
    static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
