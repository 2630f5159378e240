using System;

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

/// <summary>Exit codes of <c>fastpt</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Everything ran and every check passed.</summary>
    public const int Success = 0;

    /// <summary>A scenario check failed.</summary>
    public const int ChecksFailed = 1;

    /// <summary>The command line is wrong: parse errors, unknown scenario, bad size or range, missing file.</summary>
    public const int Usage = 2;

    /// <summary>The input data is wrong (a bad page file) or the simulated machine refused the work.</summary>
    public const int BadInput = 3;
}
