using System;
using System.Collections.Generic;

namespace FastPt.Cli.Commands;

/// <summary>A command cannot do what it was asked: bad arguments (exit code <see cref="ExitCodes.Usage"/>) or bad
/// input data (<see cref="ExitCodes.BadInput"/>). The message is shown to the user as is.</summary>
internal sealed class CliException : Exception
{
    public CliException() : this("invalid command line", ExitCodes.Usage) { }

    public CliException(string message) : this(message, ExitCodes.Usage) { }

    public CliException(string message, Exception innerException) : base(message, innerException) => ExitCode = ExitCodes.Usage;

    public CliException(string message, int exitCode) : base(message) => ExitCode = exitCode;

    /// <summary>The exit code the program ends with.</summary>
    public int ExitCode { get; }
}

/// <summary>Exit codes of <c>fastpt</c>, listed by <c>--help</c> and the README.</summary>
internal static class ExitCodes
{
    /// <summary>Everything ran and every check passed.</summary>
    public const int Success = 0;

    /// <summary>A scenario check failed.</summary>
    public const int ChecksFailed = 1;

    /// <summary>The command line is wrong: parse errors, unknown scenario or option, bad size or range, missing
    /// file.</summary>
    public const int Usage = 2;

    /// <summary>The input data is wrong (a bad page file or trace) or the simulated machine refused the work (too
    /// little memory to boot, or a scenario it cannot run: too little memory, no address space left to hot-add).</summary>
    public const int BadInput = 3;

    /// <summary>Every code with what it means, in order.</summary>
    public static IReadOnlyList<(int Code, string Meaning)> Meanings { get; } =
    [
        (Success, "success: the command ran and every check passed"),
        (ChecksFailed, "a check failed (the report says which)"),
        (Usage, "usage error: unknown command, option or scenario, bad value, missing file; nothing was written"),
        (BadInput, "bad data: a page file or trace that cannot be read, a machine that cannot boot, or a scenario the machine cannot run (reported as not run); nothing was written"),
    ];
}
