using System;

namespace FastPt.Cli.PageSets;

/// <summary>A page file could not be read: a bad line, a page outside the user range, or an unreadable file.</summary>
public sealed class PageFileException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PageFileException() { }

    /// <summary>Creates the exception with a message.</summary>
    public PageFileException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    public PageFileException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for line <paramref name="line"/> of <paramref name="path"/>.</summary>
    public PageFileException(string path, long line, string message) : base($"{path}:{line}: {message}")
    {
        Path = path;
        Line = line;
    }

    /// <summary>The file, when known.</summary>
    public string? Path { get; }

    /// <summary>The 1-based line number, or 0 when the error is not about a line.</summary>
    public long Line { get; }
}
