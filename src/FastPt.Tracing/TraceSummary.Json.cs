using System;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastPt.Tracing;

/// <summary>The summary as one JSON document, written by one generic writer: every public property of the summary's
/// records, by its camelCase name (<see cref="JsonPropertyNameAttribute"/> where the wire name says more, such as a
/// unit), in declaration order. Numbers stay numbers, durations are microseconds, enum keys are names and every
/// dictionary is written in key order.</summary>
public sealed partial record TraceSummary
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The summary as indented JSON.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        WriteJson(buffer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes the summary as indented UTF-8 JSON to <paramref name="utf8Json"/>.</summary>
    public void WriteJson(Stream utf8Json)
    {
        ArgumentNullException.ThrowIfNull(utf8Json);
        using var json = new Utf8JsonWriter(utf8Json, WriterOptions);
        JsonSerializer.Serialize(json, this, TraceSummaryJsonContext.Default.TraceSummary);
    }
}

/// <summary>The serializer for <see cref="TraceSummary"/>, generated at build time (no reflection at run time):
/// camelCase names, durations through <see cref="MicrosecondsConverter"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [typeof(MicrosecondsConverter)])]
[JsonSerializable(typeof(TraceSummary))]
internal sealed partial class TraceSummaryJsonContext : JsonSerializerContext;

/// <summary>A <see cref="TimeSpan"/> as its number of microseconds (the properties' wire names say
/// "Microseconds").</summary>
internal sealed class MicrosecondsConverter : JsonConverter<TimeSpan>
{
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        TimeSpan.FromMicroseconds(reader.GetDouble());

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumberValue(value.TotalMicroseconds);
    }
}
