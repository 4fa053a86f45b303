package dev.beckon.interop;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * Apache Avro's Java library as a command-line peer of Beckon's codec tests.
 * Everything it prints is computed by Avro itself (SchemaNormalization,
 * BinaryMessageEncoder, BinaryMessageDecoder, the JSON encoding), so the Go
 * tests compare Beckon against the reference implementation, not against
 * code written for the test.
 *
 * <pre>
 * fingerprints DIR       for every DIR/*.avsc (sorted): a JSON object
 *                        {"file.avsc": {"canonical": PCF, "fingerprint": HEX}}
 *                        HEX is parsingFingerprint64 as 16 hex digits.
 * encode SCHEMA          stdin: one record in Avro JSON encoding;
 *                        stdout: its single-object encoding, as hex.
 * decode SCHEMA          stdin: a single-object encoded record, as hex;
 *                        stdout: the record in Avro JSON encoding.
 * </pre>
 */
public final class AvroPeer {
  private AvroPeer() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      usage();
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    switch (args[0]) {
      case "fingerprints" -> fingerprints(new File(args[1]), out);
      case "encode" -> out.println(encode(parse(new File(args[1])), readStdin()));
      case "decode" -> out.println(decode(parse(new File(args[1])), readStdin().trim()));
      default -> usage();
    }
  }

  private static void usage() {
    System.err.println("usage: AvroPeer fingerprints DIR | encode SCHEMA.avsc | decode SCHEMA.avsc");
    System.exit(2);
  }

  private static Schema parse(File f) throws IOException {
    return new Schema.Parser().parse(f);
  }

  private static void fingerprints(File dir, PrintStream out) throws IOException {
    File[] files = dir.listFiles((d, n) -> n.endsWith(".avsc"));
    if (files == null || files.length == 0) {
      throw new IOException("no .avsc files in " + dir);
    }
    Arrays.sort(files);
    StringBuilder sb = new StringBuilder("{\n");
    for (int i = 0; i < files.length; i++) {
      Schema s = parse(files[i]);
      String pcf = SchemaNormalization.toParsingForm(s);
      long fp = SchemaNormalization.parsingFingerprint64(s);
      sb.append("  ").append(quote(files[i].getName())).append(": {\"canonical\": ")
          .append(quote(pcf)).append(", \"fingerprint\": \"")
          .append(String.format("%016x", fp)).append("\"}")
          .append(i + 1 < files.length ? ",\n" : "\n");
    }
    out.print(sb.append("}\n"));
  }

  /** quote writes s as a JSON string; names and PCFs here are ASCII. */
  private static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  private static String encode(Schema schema, String json) throws IOException {
    GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(schema);
    GenericRecord rec = reader.read(null, DecoderFactory.get().jsonDecoder(schema, json));
    BinaryMessageEncoder<GenericRecord> enc = new BinaryMessageEncoder<>(GenericData.get(), schema);
    ByteBuffer buf = enc.encode(rec);
    byte[] b = new byte[buf.remaining()];
    buf.get(b);
    return HexFormat.of().formatHex(b);
  }

  private static String decode(Schema schema, String hex) throws IOException {
    BinaryMessageDecoder<GenericRecord> dec = new BinaryMessageDecoder<>(GenericData.get(), schema);
    GenericRecord rec = dec.decode(HexFormat.of().parseHex(hex));
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    JsonEncoder je = EncoderFactory.get().jsonEncoder(schema, bos);
    new GenericDatumWriter<GenericRecord>(schema).write(rec, je);
    je.flush();
    return bos.toString(StandardCharsets.UTF_8);
  }

  private static String readStdin() throws IOException {
    try (InputStream in = System.in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
