using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace FastPt.Cli.Rendering;

/// <summary>How every <c>--json</c> report is written: one indented document, non-ASCII text as is, built in memory
/// and written in one piece (an error half-way writes nothing), plus the shapes the reports share.</summary>
internal static class JsonOutput
{
    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the object whose fields <paramref name="writeFields"/> writes to <paramref name="output"/>,
    /// then a newline.</summary>
    public static void WriteDocument(TextWriter output, Action<Utf8JsonWriter> writeFields)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(writeFields);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            writeFields(json);
            json.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>An array named <paramref name="name"/> of one object per item, each written by
    /// <paramref name="writeFields"/> between its braces.</summary>
    public static void WriteObjects<T>(this Utf8JsonWriter json, string name, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeFields)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(writeFields);
        json.WriteStartArray(name);
        foreach (T item in items)
        {
            json.WriteStartObject();
            writeFields(json, item);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>An object named <paramref name="name"/> whose fields <paramref name="writeFields"/> writes.</summary>
    public static void WriteObject(this Utf8JsonWriter json, string name, Action<Utf8JsonWriter> writeFields)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(writeFields);
        json.WriteStartObject(name);
        writeFields(json);
        json.WriteEndObject();
    }

    /// <summary>The "machine" object the scenario reports start with.</summary>
    public static void WriteMachine(this Utf8JsonWriter json, MachineOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(options);
        json.WriteObject("machine", w =>
        {
            w.WriteNumber("memoryBytes", options.MemorySize);
            w.WriteNumber("pagingLevels", (int)options.PagingMode);
            w.WriteBoolean("checkedMode", options.CheckedMode);
            w.WriteNumber("seed", seed);
        });
    }
}
