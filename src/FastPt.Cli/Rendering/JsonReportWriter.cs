using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using FastPt.Cli.Scenarios;

namespace FastPt.Cli.Rendering;

/// <summary>Writes scenario reports as one JSON document: the machine, then every scenario with its facts (in
/// order), tables, checks and time; numbers stay numbers and durations are in milliseconds. The boot time stands
/// apart: no scenario time includes it.</summary>
internal static class JsonReportWriter
{
    public static void Write(TextWriter output, MachineOptions options, int seed, IReadOnlyList<ScenarioReport> reports, TimeSpan bootTime, TimeSpan total)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("machine");
            json.WriteNumber("memoryBytes", options.MemorySize);
            json.WriteNumber("pagingLevels", (int)options.PagingMode);
            json.WriteBoolean("checkedMode", options.CheckedMode);
            json.WriteNumber("seed", seed);
            json.WriteEndObject();
            json.WriteBoolean("passed", reports.Count > 0 && reports.All(report => report.Passed));
            // Booting comes before the scenarios; neither their times nor the total include it.
            json.WriteNumber("bootMilliseconds", bootTime.TotalMilliseconds);
            json.WriteNumber("elapsedMilliseconds", total.TotalMilliseconds);
            json.WriteStartArray("scenarios");
            foreach (ScenarioReport report in reports) WriteReport(json, report);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteReport(Utf8JsonWriter json, ScenarioReport report)
    {
        json.WriteStartObject();
        json.WriteString("name", report.Scenario);
        json.WriteString("description", report.Description);
        json.WriteBoolean("passed", report.Passed);
        json.WriteBoolean("ran", report.NotRunReason is null && !report.Skipped);
        if (report.NotRunReason is { } reason) json.WriteString("notRunReason", reason);
        if (report.SkipReason is { } skip) json.WriteString("skipReason", skip);
        json.WriteNumber("elapsedMilliseconds", report.Elapsed.TotalMilliseconds);
        json.WriteStartArray("facts");
        foreach (ReportFact fact in report.Facts)
        {
            json.WriteStartObject();
            json.WriteString("name", fact.Name);
            json.WritePropertyName("value");
            WriteValue(json, fact.Value);
            string? unit = fact.Value.Kind == ReportValueKind.Duration ? "ms" : fact.Unit;
            if (unit is not null) json.WriteString("unit", unit);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("tables");
        foreach (ReportTable table in report.Tables)
        {
            json.WriteStartObject();
            json.WriteString("title", table.Title);
            json.WriteStartArray("columns");
            foreach (string column in table.Columns) json.WriteStringValue(column);
            json.WriteEndArray();
            json.WriteStartArray("rows");
            foreach (IReadOnlyList<ReportValue> row in table.Rows)
            {
                json.WriteStartArray();
                foreach (ReportValue value in row) WriteValue(json, value);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("checks");
        foreach (ReportCheck check in report.Checks)
        {
            json.WriteStartObject();
            json.WriteString("name", check.Name);
            json.WriteBoolean("passed", check.Passed);
            json.WriteString("detail", check.Detail);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, ReportValue value)
    {
        switch (value.Kind)
        {
            case ReportValueKind.WholeNumber:
                json.WriteNumberValue(value.WholeNumber);
                break;
            case ReportValueKind.RealNumber:
            case ReportValueKind.Duration:
                if (double.IsFinite(value.RealNumber)) json.WriteNumberValue(value.RealNumber);
                else json.WriteNullValue();
                break;
            default:
                json.WriteStringValue(value.Text);
                break;
        }
    }
}
