using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using FastPt.Cli.Parsing;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>Factories for the options several commands share, and the parsers and checks behind them. Each command
/// gets its own instances; an option written before a subcommand applies to it through its name
/// (<see cref="ParsedCommandLine"/>). Every value is parsed here, never by a validator that could throw on a value
/// that did not convert.</summary>
internal static class CommonOptions
{
    /// <summary>Default simulated RAM: 64 GiB (lazily backed, so it costs little host memory).</summary>
    public const ulong DefaultMemory = 64UL << 30;

    /// <summary>Default seed.</summary>
    public const int DefaultSeed = 1;

    private const ulong MemoryGranule = 2UL << 20;
    private const ulong MaximumMemory = 1UL << 46;

    /// <summary>--memory; null when absent (the help shows the default as 64G rather than in bytes).</summary>
    public static Option<ulong?> Memory() => new("--memory", "-m")
    {
        Description = "Simulated RAM: 512M, 64G, 1T or a number of bytes (a multiple of 2 MiB, from 32M to 64T). Default 64G.",
        HelpName = "SIZE",
        CustomParser = Parser<ulong>("--memory", SizeParser.TryParse, CheckMemory),
    };

    public static Option<int> Levels()
    {
        var option = new Option<int>("--levels")
        {
            Description = "Page-table levels: 4 (48-bit addresses) or 5 (57-bit, LA57).",
            HelpName = "4|5",
            DefaultValueFactory = _ => 4,
            // Parsed here, so that "abc" and "6" get the same one-line message (never .NET's type names).
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (text is "4" or "5") return text[0] - '0';
                result.AddError(NotOneOf("--levels", text, ["4", "5"]));
                return 4;
            },
        };
        option.CompletionSources.Add("4", "5");
        return option;
    }

    public static Option<bool> Checked() => new("--checked")
    {
        Description = "Checked mode: poison freed frames and report any access to freed page tables (slower).",
    };

    public static Option<int> Seed() => Integer("--seed", "Seed for every random choice.", "N", DefaultSeed, int.MinValue, int.MaxValue);

    public static Option<bool> Json() => new("--json")
    {
        Description = "Write a machine-readable JSON report to standard output instead of tables.",
    };

    /// <summary>--duration; null when absent (the scenarios run once).</summary>
    public static Option<TimeSpan?> Duration() => new("--duration")
    {
        Description = "Loop the scenarios on one machine (a new one after a failed round) until this much time has passed (500ms, 3s, 2m, 1h): "
            + "a steady workload for dotnet-counters or dotnet-trace. Ctrl+C stops with the summary so far.",
        HelpName = "TIME",
        CustomParser = Parser<TimeSpan>("--duration", DurationParser.TryParse),
    };

    /// <summary>--repeat; null when absent.</summary>
    public static Option<int?> Repeat()
    {
        Func<ArgumentResult, long?> parse = WholeNumber("--repeat", 1, int.MaxValue);
        return new Option<int?>("--repeat")
        {
            Description = "Loop the scenarios this many rounds on one machine (with --duration: whichever ends first).",
            HelpName = "N",
            CustomParser = result => (int?)parse(result),
        };
    }

    public static Option<string?> Pages(bool required)
    {
        var option = new Option<string?>("--pages")
        {
            Description = "Page file: one 4 KiB page index per line (decimal or 0x-hex, '#' comments), plain or gzip.",
            HelpName = "FILE",
            Required = required,
        };
        option.Validators.Add(result => AddInputFileError(result, result.Tokens.Count > 0 ? result.Tokens[0].Value : null, "page file"));
        return option;
    }

    /// <summary>--base; null when absent (default <see cref="PageSets.PageSetReplayer.DefaultBase"/>).</summary>
    public static Option<ulong?> Base() => new("--base")
    {
        Description = "Virtual address of page 0 of the page file. Default 0x0000_0080_0000_0000 (512 GiB). "
            + "A higher-half address (e.g. 0xffffffff80000000) replays into a guest space covering both canonical halves.",
        HelpName = "VA",
        CustomParser = Parser<ulong>("--base", SizeParser.TryParseAddress,
            static (text, address) => (address & 0xfff) != 0 ? $"{TextFormat.Quote(text)} is not 4 KiB aligned" : null),
    };

    /// <summary>A whole-number option in [<paramref name="minimum"/>, <paramref name="maximum"/>]. With
    /// <paramref name="capAtMaximum"/>, larger values mean "as many as there are" and become the maximum.</summary>
    public static Option<int> Integer(string name, string description, string helpName, int defaultValue, int minimum, int maximum,
        bool capAtMaximum = false)
    {
        var option = new Option<int>(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            string range = minimum == 0 ? "0 or more" : FormattableString.Invariant($"from {minimum:N0} to {maximum:N0}");
            if (!long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                bool hugeNumber = capAtMaximum && text.Length > 0 && text.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0;
                if (hugeNumber) return maximum;
                result.AddError($"{name}: {TextFormat.Quote(text)} is not a whole number ({range})");
                return defaultValue;
            }
            if (value > maximum && capAtMaximum) return maximum;
            if (value < minimum || value > maximum)
            {
                result.AddError($"{name}: {TextFormat.Quote(text)} is out of range ({range})");
                return defaultValue;
            }
            return (int)value;
        };
        return option;
    }

    /// <summary>A number-of-seconds option: 0, or from <paramref name="minimum"/> to <paramref name="maximum"/>.</summary>
    public static Option<double> Seconds(string name, string description, double defaultValue, double minimum, double maximum)
    {
        var option = new Option<double>(name)
        {
            Description = description,
            HelpName = "SECONDS",
            DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds)
                || (seconds != 0 && !(seconds >= minimum && seconds <= maximum)))
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {TextFormat.Quote(text)} is not a number of seconds: give 0, or {minimum} to {maximum}"));
                return defaultValue;
            }
            return seconds;
        };
        return option;
    }

    /// <summary>Adds an error to <paramref name="result"/> unless <paramref name="path"/> names a file that
    /// exists (a directory is not one).</summary>
    public static void AddInputFileError(SymbolResult result, string? path, string what)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (InputFileError(path, what) is { } error) result.AddError(error);
    }

    /// <summary>Why <paramref name="path"/> cannot be read as a <paramref name="what"/>, or null if it can be.</summary>
    public static string? InputFileError(string? path, string what)
    {
        if (string.IsNullOrEmpty(path)) return $"{what}: a file name is required";
        if (Directory.Exists(path)) return $"{what} {TextFormat.Quote(path, 200)} is a directory, not a file";
        if (!File.Exists(path)) return $"{what} {TextFormat.Quote(path, 200)} not found";
        return null;
    }

    /// <summary>Why <paramref name="path"/> cannot be written as a new <paramref name="what"/>, or null if it can;
    /// a directory gets <paramref name="example"/> as the file name to suggest.</summary>
    public static string? OutputFileError(string? path, string what, string example = "trace.nettrace")
    {
        if (string.IsNullOrEmpty(path)) return $"{what}: a file name is required";
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception exception) when (exception is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return $"{what} {TextFormat.Quote(path, 200)} is not a valid path";
        }
        if (Directory.Exists(full) || path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar))
            return $"{what} {TextFormat.Quote(path, 200)} is a directory: give a file name, for example {Path.Combine(path, example)}";
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            return $"{what} {TextFormat.Quote(path, 200)}: the directory {TextFormat.Quote(directory, 200)} does not exist";
        return null;
    }

    public static PagingMode ToPagingMode(int levels) => levels == 5 ? PagingMode.FiveLevel : PagingMode.FourLevel;

    /// <summary>Options for the simulated machine from the parsed command line.</summary>
    public static MachineOptions MachineOptions(ulong? memory, int levels, bool checkedMode) => new()
    {
        MemorySize = memory ?? DefaultMemory,
        PagingMode = ToPagingMode(levels),
        CheckedMode = checkedMode,
    };

    /// <summary>Boots a machine (on a terminal with a progress bar per boot step), turning a refusal by the engine
    /// into a clear error with <see cref="ExitCodes.BadInput"/>.</summary>
    public static Machine Boot(MachineOptions options, CliEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        string size = SizeParser.Format(options.MemorySize);
        // Said in the user's units here; the engine's own refusal names its property and hex bytes.
        if (options.MemorySize < global::FastPt.MachineOptions.MinimumMemorySize)
            throw new CliException($"cannot boot a machine with {size} of RAM: it needs at least " +
                $"{SizeParser.Format(global::FastPt.MachineOptions.MinimumMemorySize)} (its memmap and page tables)", ExitCodes.BadInput);
        try
        {
            return environment.Interactive ? BootWithProgress(environment.CreateConsole(), options) : new Machine(options);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or FastPtException)
        {
            // The engine refuses a machine it cannot boot (too little RAM for its memmap and tables, for example).
            // An ArgumentException's Message ends in " (Parameter 'Name')": .NET's words for a programmer, not a user.
            string reason = exception is ArgumentException { ParamName: { } name }
                ? exception.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)
                : exception.Message;
            throw new CliException($"cannot boot a machine with {size} of RAM: {reason}", ExitCodes.BadInput);
        }
    }

    /// <summary>Boots on a terminal with a progress bar per boot step.</summary>
    private static Machine BootWithProgress(IAnsiConsole console, MachineOptions options)
    {
        Machine? machine = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("boot", maxValue: 1);
                machine = new Machine(options, new SpectreBootProgress(task));
                task.Value = task.MaxValue;
            });
        return machine!;
    }

    /// <summary>Shows the boot step running and how far it got.</summary>
    private sealed class SpectreBootProgress(ProgressTask task) : IProgress<BootProgress>
    {
        public void Report(BootProgress value)
        {
            task.Description = Markup.Escape($"boot: {value.Phase}");
            task.Value = value.Fraction * task.MaxValue;
        }
    }

    /// <summary>Restricts <paramref name="option"/> to <paramref name="words"/> as typed: anything else is one line
    /// that names the option, the word and every word it takes (System.CommandLine's own message spans three lines
    /// and names no option). The words are the option's completions too.</summary>
    public static void AcceptOnly(Option option, params string[] words)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(result =>
        {
            foreach (Token token in result.Tokens)
            {
                if (Array.IndexOf(words, token.Value) < 0) result.AddError(NotOneOf(option.Name, token.Value, words));
            }
        });
        option.CompletionSources.Add(words);
    }

    private static string NotOneOf(string name, string text, string[] words) =>
        $"{name}: {TextFormat.Quote(text)} is not one of {string.Join(", ", words)}";

    /// <summary>An option's parser through one of the parsers in <c>Parsing/</c>: the value, or null with an error
    /// naming the option and saying why; a value that parses but <paramref name="check"/> refuses (it returns the
    /// reason) is an error too.</summary>
    public static Func<ArgumentResult, T?> Parser<T>(string name, TryParser<T> tryParse, Func<string, T, string?>? check = null) where T : struct
    {
        ArgumentNullException.ThrowIfNull(tryParse);
        return result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!tryParse(text, out T value, out string error))
            {
                result.AddError($"{name}: {error}");
                return null;
            }
            if (check?.Invoke(text, value) is { } refused)
            {
                result.AddError($"{name}: {refused}");
                return null;
            }
            return value;
        };
    }

    /// <summary>The parser of a whole-number option from <paramref name="minimum"/> to <paramref name="maximum"/>:
    /// the value, or null with an error that names the option and the range (never .NET's type names).</summary>
    public static Func<ArgumentResult, long?> WholeNumber(string name, long minimum, long maximum) =>
        Parser<long>(name, (string text, out long value, out string error) => NumberParser.TryParseWhole(text, minimum, maximum, out value, out error));

    private static string? CheckMemory(string text, ulong bytes)
    {
        if (bytes < MemoryGranule || bytes % MemoryGranule != 0) return $"{TextFormat.Quote(text)} must be a non-zero multiple of 2 MiB";
        if (bytes > MaximumMemory) return $"{TextFormat.Quote(text)} exceeds the 64 TiB the simulated machine can address";
        return null;
    }
}

/// <summary>The shape of the parsers in <c>Parsing/</c>: the value, or false with why the text is not one.</summary>
internal delegate bool TryParser<T>(string text, out T value, out string error);
