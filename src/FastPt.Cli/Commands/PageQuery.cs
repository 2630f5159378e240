using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>Entries in a row that belong together (equal kpageflags words, pagemap entries on consecutive frames):
/// indices [<paramref name="Start"/>, <paramref name="End"/>) and the first entry.</summary>
/// <param name="Start">Index (frame or virtual page number) of the first entry.</param>
/// <param name="End">Index past the last entry.</param>
/// <param name="First">The first entry of the run.</param>
internal readonly record struct EntryRun<T>(ulong Start, ulong End, T First)
{
    /// <summary>Entries in the run.</summary>
    public ulong Count => End - Start;
}

/// <summary>Parses one word of a ranges argument, or says why it cannot.</summary>
internal delegate bool RangeParser<TRange>(string text, out TRange range, out string error);

/// <summary>Reads the entries from index <paramref name="first"/> into <paramref name="entries"/>.</summary>
internal delegate void ChunkReader<T>(ulong first, Span<T> entries);

/// <summary>The command line the page queries (<c>fastpt kpageflags</c>, <c>fastpt pagemap</c>) share: the ranges
/// argument parsed by one parser (validated before anything runs), the HugeTLB pool options, <c>--rows</c>,
/// <c>--memory</c>, <c>--levels</c> and <c>--json</c>. What they share after parsing is <see cref="PageQuery"/>.</summary>
/// <typeparam name="TRange">What one word of the ranges argument parses into.</typeparam>
internal sealed class PageQueryCommand<TRange>
{
    private const int DefaultRows = 100;

    private readonly Argument<string[]> _ranges;
    private readonly RangeParser<TRange> _parse;
    private readonly Option<int> _rows;
    private readonly Option<ulong?> _memory = CommonOptions.Memory();
    private readonly Option<int> _levels = CommonOptions.Levels();
    private readonly Option<bool> _json = CommonOptions.Json();

    /// <summary>A page query called <paramref name="name"/>: the ranges argument (<paramref name="ranges"/>, parsed
    /// by <paramref name="parse"/>), the command's own options (<paramref name="own"/>), then the shared ones; what
    /// <c>--rows</c> runs are made of is <paramref name="runsOf"/> ("page", "frame").</summary>
    public PageQueryCommand(string name, string description, Argument<string[]> ranges, RangeParser<TRange> parse, string runsOf, params Option[] own)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(own);
        _ranges = ranges;
        _parse = parse;
        _rows = CommonOptions.Integer("--rows",
            $"Runs to list per range, 0 or more (the counts cover every {runsOf}, however many are listed).", "N", DefaultRows,
            minimum: 0, maximum: int.MaxValue, capAtMaximum: true);
        Command = new Command(name, description) { ranges };
        Option[] shared = [_rows, _memory, _levels, _json, .. Pool.All];
        foreach (Option option in own.Concat(shared)) Command.Options.Add(option);
        Command.Validators.Add(result =>
        {
            foreach (string text in result.GetValue(ranges) ?? [])
            {
                if (!parse(text, out _, out string error)) result.AddError(error);
            }
        });
    }

    /// <summary>The command, with every shared option.</summary>
    public Command Command { get; }

    /// <summary>The options that fill the pools.</summary>
    public HugeTlbPoolOptions Pool { get; } = HugeTlbPoolOptions.Create();

    /// <summary>The ranges given on the command line, in order (the validator refused any that does not parse).</summary>
    public List<TRange> Ranges(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var given = new List<TRange>();
        foreach (string text in parse.GetValue(_ranges) ?? [])
        {
            if (!_parse(text, out TRange range, out string error)) throw new CliException(error);
            given.Add(range);
        }
        return given;
    }

    /// <summary>The machine asked for: --memory, --levels, the HVO design and switch.</summary>
    public MachineOptions MachineOptions(ParseResult parse) => Pool.MachineOptions(parse, parse.GetValue(_memory), parse.GetValue(_levels));

    /// <summary>True with --json.</summary>
    public bool Json(ParseResult parse) => parse.GetValue(_json);

    /// <summary>How many runs to list per range.</summary>
    public int RowLimit(ParseResult parse) => parse.GetValue(_rows);

    /// <summary>The first line of the report: "fastpt NAME: 64 GiB machine, HVO design 6x, ...".</summary>
    public void WriteHeading(IAnsiConsole console, Machine machine)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(machine);
        string line = $"{SizeParser.Format(machine.Options.MemorySize)} machine, {HugeTlbPoolOptions.Describe(machine)}";
        console.MarkupLine($"[bold]fastpt {Command.Name}[/]: {Markup.Escape(line)}");
    }

}

/// <summary>What the page queries share once the command line is parsed: reading a /proc file of entries a chunk at
/// a time into runs, the runs table and the JSON document that starts with the pools.</summary>
internal static class PageQuery
{
    /// <summary>Entries read per call, as one read() of the /proc file would.</summary>
    public const int Chunk = 1 << 16;

    /// <summary>The JSON report: the machine and its pools, then what <paramref name="writeFields"/> writes.</summary>
    public static void WriteJson(TextWriter output, Machine machine, Action<Utf8JsonWriter> writeFields) =>
        JsonOutput.WriteDocument(output, json =>
        {
            HugeTlbPoolOptions.WritePools(json, machine);
            writeFields(json);
        });

    /// <summary>Reads entries [<paramref name="start"/>, <paramref name="end"/>) through <paramref name="read"/> a
    /// chunk at a time and folds them into runs: an entry joins the last run when
    /// <paramref name="continues"/>(the run's first entry, the entry's offset in the run, the entry) says so.</summary>
    public static List<EntryRun<T>> ReadRuns<T>(ulong start, ulong end, ChunkReader<T> read, Func<T, ulong, T, bool> continues)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(continues);
        var runs = new List<EntryRun<T>>();
        var buffer = new T[(int)Math.Min(Chunk, end - start)];
        for (ulong at = start; at < end;)
        {
            int n = (int)Math.Min((ulong)buffer.Length, end - at);
            read(at, buffer.AsSpan(0, n));
            for (int i = 0; i < n; i++, at++)
            {
                T entry = buffer[i];
                if (runs.Count > 0 && continues(runs[^1].First, at - runs[^1].Start, entry)) runs[^1] = runs[^1] with { End = at + 1 };
                else runs.Add(new EntryRun<T>(at, at + 1, entry));
            }
        }
        return runs;
    }

    /// <summary>One range's runs: a heading (markup), then a table of at most <paramref name="rowLimit"/> runs with
    /// <paramref name="columns"/> filled by <paramref name="cells"/> (markup), then how many were left out.</summary>
    public static void WriteRuns<T>(IAnsiConsole console, string headingMarkup, IReadOnlyList<T> runs, int rowLimit,
        IReadOnlyList<(string Header, bool RightAligned)> columns, Func<T, string[]> cells)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(cells);
        console.WriteLine();
        TextFormat.Heading(console, headingMarkup);
        var table = new FittedTable();
        foreach ((string header, bool rightAligned) in columns) table.AddColumn(header, rightAligned);
        for (int i = 0; i < runs.Count && i < rowLimit; i++) table.AddRow(cells(runs[i]));
        if (table.RowCount > 0) table.Write(console);
        if (runs.Count > table.RowCount)
            console.MarkupLine($"[grey]… {Markup.Escape(TextFormat.Count(runs.Count - table.RowCount, "more run"))} not listed (--rows)[/]");
    }
}
