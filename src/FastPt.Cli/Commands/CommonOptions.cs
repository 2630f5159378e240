using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using FastPt.Cli.Parsing;

namespace FastPt.Cli.Commands;

/// <summary>Factories for the options several commands share. Each command gets its own instances.</summary>
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
        Description = "Simulated RAM: 512M, 64G, 1T or a number of bytes (a multiple of 2 MiB). Default 64G.",
        HelpName = "SIZE",
        CustomParser = ParseMemory,
    };

    public static Option<int> Levels()
    {
        var option = new Option<int>("--levels")
        {
            Description = "Page-table levels: 4 (48-bit addresses) or 5 (57-bit, LA57).",
            HelpName = "4|5",
            DefaultValueFactory = _ => 4,
        };
        option.AcceptOnlyFromAmong("4", "5");
        return option;
    }

    public static Option<bool> Checked() => new("--checked")
    {
        Description = "Checked mode: poison freed frames and report any access to freed page tables (slower).",
    };

    public static Option<int> Seed() => new("--seed")
    {
        Description = "Seed for every random choice.",
        HelpName = "N",
        DefaultValueFactory = _ => DefaultSeed,
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Write a machine-readable JSON report to standard output instead of tables.",
    };

    public static Option<string?> Pages(bool required) => new("--pages")
    {
        Description = "Page file: one 4 KiB page index per line (decimal or 0x-hex, '#' comments), plain or gzip.",
        HelpName = "FILE",
        Required = required,
    };

    /// <summary>--base; null when absent (default <see cref="PageSets.PageSetReplayer.DefaultBase"/>).</summary>
    public static Option<ulong?> Base() => new("--base")
    {
        Description = "Virtual address of page 0 of the page file. Default 0x0000_0080_0000_0000 (512 GiB).",
        HelpName = "VA",
        CustomParser = ParseBase,
    };

    public static PagingMode ToPagingMode(int levels) => levels == 5 ? PagingMode.FiveLevel : PagingMode.FourLevel;

    /// <summary>Options for the simulated machine from the parsed command line.</summary>
    public static MachineOptions MachineOptions(ulong? memory, int levels, bool checkedMode) => new()
    {
        MemorySize = memory ?? DefaultMemory,
        PagingMode = ToPagingMode(levels),
        CheckedMode = checkedMode,
    };

    /// <summary>Boots a machine, turning a refusal by the engine into a clear error; <paramref name="progress"/>
    /// hears each step of the boot.</summary>
    public static Machine Boot(MachineOptions options, IProgress<BootProgress>? progress = null)
    {
        try
        {
            return new Machine(options, progress);
        }
        catch (Exception exception) when (exception is ArgumentException or FastPtException)
        {
            throw new CliException($"cannot boot a machine with {SizeParser.Format(options.MemorySize)} of RAM: {exception.Message}", ExitCodes.BadInput);
        }
    }

    private static ulong? ParseMemory(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!SizeParser.TryParse(text, out ulong bytes, out string error))
        {
            result.AddError("--memory: " + error);
            return 0;
        }
        if (bytes < MemoryGranule || bytes % MemoryGranule != 0)
            result.AddError($"--memory: '{text}' must be a non-zero multiple of 2 MiB");
        else if (bytes > MaximumMemory)
            result.AddError($"--memory: '{text}' exceeds the 64 TiB the simulated machine can address");
        return bytes;
    }

    private static ulong? ParseBase(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!SizeParser.TryParse(text, out ulong address, out string error))
        {
            result.AddError("--base: " + error.Replace("size", "address", StringComparison.Ordinal));
            return 0;
        }
        if ((address & 0xfff) != 0) result.AddError($"--base: {text} is not 4 KiB aligned");
        return address;
    }
}
