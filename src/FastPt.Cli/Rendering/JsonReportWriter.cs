using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Scenarios;

namespace FastPt.Cli.Rendering;

/// <summary>Writes scenario reports as one JSON document: the machine, then every scenario with its facts (in
/// order), tables, checks and time; numbers stay numbers and durations are in milliseconds. The boot time stands
/// apart: no scenario time includes it.</summary>
internal static class JsonReportWriter
{
    public static void Write(TextWriter output, MachineOptions options, int seed, IReadOnlyList<ScenarioReport> reports, TimeSpan bootTime, TimeSpan total) =>
        JsonOutput.WriteDocument(output, json =>
        {
            json.WriteMachine(options, seed);
            json.WriteBoolean("passed", reports.Count > 0 && reports.All(report => report.Passed));
            // Booting comes before the scenarios; neither their times nor the total include it.
            json.WriteNumber("bootMilliseconds", bootTime.TotalMilliseconds);
            json.WriteNumber("elapsedMilliseconds", total.TotalMilliseconds);
            json.WriteObjects("scenarios", reports, WriteReport);
        });

    private static void WriteReport(Utf8JsonWriter json, ScenarioReport report)
    {
        json.WriteString("name", report.Scenario);
        json.WriteString("description", report.Description);
        json.WriteBoolean("passed", report.Passed);
        json.WriteBoolean("ran", report.NotRunReason is null && !report.Skipped);
        if (report.NotRunReason is { } reason) json.WriteString("notRunReason", reason);
        if (report.SkipReason is { } skip) json.WriteString("skipReason", skip);
        json.WriteNumber("elapsedMilliseconds", report.Elapsed.TotalMilliseconds);
        json.WriteObjects("facts", report.Facts, static (w, fact) =>
        {
            w.WriteString("name", fact.Name);
            w.WritePropertyName("value");
            WriteValue(w, fact.Value);
            string? unit = fact.Value.Kind == ReportValueKind.Duration ? "ms" : fact.Unit;
            if (unit is not null) w.WriteString("unit", unit);
        });
        json.WriteObjects("tables", report.Tables, static (w, table) =>
        {
            w.WriteString("title", table.Title);
            w.WriteStartArray("columns");
            foreach (string column in table.Columns) w.WriteStringValue(column);
            w.WriteEndArray();
            w.WriteStartArray("rows");
            foreach (IReadOnlyList<ReportValue> row in table.Rows)
            {
                w.WriteStartArray();
                foreach (ReportValue value in row) WriteValue(w, value);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });
        json.WriteObjects("checks", report.Checks, static (w, check) =>
        {
            w.WriteString("name", check.Name);
            w.WriteBoolean("passed", check.Passed);
            w.WriteString("detail", check.Detail);
        });
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
