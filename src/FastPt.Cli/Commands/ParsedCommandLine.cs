using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Linq;
using FastPt.Cli.Rendering;

namespace FastPt.Cli.Commands;

/// <summary>A parsed command line and every usage error found in it: System.CommandLine's, plus two rules it does
/// not enforce. Options written before a subcommand (<c>fastpt --memory 3G run boot</c>) belong to the root command,
/// which System.CommandLine neither applies nor even validates once a subcommand runs; here they move after the
/// subcommand, where they apply, or are an error when the subcommand has no option of that name. And a word that
/// looks like an option but landed in a command's arguments (<c>run boot --bogus</c>) is an unknown option, not a
/// scenario or file name, unless it comes after <c>--</c>.</summary>
/// <param name="Result">The parse result to invoke.</param>
/// <param name="Errors">Usage errors; the command must not run when there are any.</param>
internal sealed record ParsedCommandLine(ParseResult Result, IReadOnlyList<string> Errors)
{
    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/>.</summary>
    public static ParsedCommandLine Parse(Command root, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(args);
        ParseResult parse = root.Parse(args);
        var errors = new List<string>();
        if (MoveLeadingOptions(root, parse, errors) is { } moved) parse = moved;
        if (errors.Count > 0) return new ParsedCommandLine(parse, errors);
        errors.AddRange(parse.Errors.Select(Describe));
        if (errors.Count == 0) FindOptionsAmongArguments(parse, errors);
        return new ParsedCommandLine(parse, errors);
    }

    /// <summary>True when the command to run writes a JSON document to standard output (its <c>--json</c> is given).</summary>
    public bool WritesJson =>
        Result.CommandResult.Command.Options.FirstOrDefault(option => option.Name == "--json") is Option<bool> json && Result.GetValue(json);

    /// <summary>System.CommandLine's message, except where it does not say what is missing: a command without its
    /// subcommand ("Required command was not provided.") or without its argument ("Required argument missing for
    /// command: 'run'.") is told what it takes.</summary>
    private static string Describe(ParseError error)
    {
        // The error sits on the command, or on its argument.
        if ((error.SymbolResult as CommandResult ?? error.SymbolResult?.Parent as CommandResult) is not { } command) return error.Message;
        string where = PathOf(command);
        if (error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal) && command.Command.Subcommands.Count > 0)
            return $"'{where}' needs a command: {string.Join(" or ", command.Command.Subcommands.Select(c => c.Name))} (see '{where} --help')";
        if (error.Message.StartsWith("Required argument missing", StringComparison.Ordinal) && command.Command.Arguments.Count > 0)
        {
            string needed = error.SymbolResult is ArgumentResult argument ? $"<{argument.Argument.Name}>"
                : string.Join(" and ", command.Command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0).Select(a => $"<{a.Name}>"));
            return $"'{where}' needs {needed} (see '{where} --help')";
        }
        return error.Message;
    }

    /// <summary>The command's name as typed: "fastpt trace record".</summary>
    public static string PathOf(CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var names = new List<string>();
        for (SymbolResult? current = result; current is not null; current = current.Parent)
        {
            if (current is CommandResult command) names.Add(command.Command.Name);
        }
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>When options precede a subcommand, parses again with them right after the subcommand's name (so
    /// they get that command's parsing, validation and position rules). Returns null when nothing moved. An option
    /// the root knows and one it does not (<c>fastpt --base 0x1000 replay ...</c>) move alike, but only if the
    /// subcommand has it.</summary>
    private static ParseResult? MoveLeadingOptions(Command root, ParseResult parse, List<string> errors)
    {
        CommandResult leaf = parse.CommandResult;
        if (ReferenceEquals(leaf.Command, root)) return null;
        IReadOnlyList<Token> tokens = parse.Tokens;
        int firstCommand = IndexOf(tokens, token => token.Type == TokenType.Command);
        int leafName = IndexOf(tokens, token => ReferenceEquals(token, leaf.IdentifierToken));
        if (firstCommand <= 0 || leafName < firstCommand) return null;

        var leading = new List<string>();
        foreach (OptionResult option in parse.RootCommandResult.Children.OfType<OptionResult>())
        {
            if (!option.Implicit && option.IdentifierToken is not null && option.Option is not HelpOption and not VersionOption)
                leading.Add(option.Option.Name);
        }
        for (int i = 0; i < firstCommand; i++)
        {
            string word = tokens[i].Value;
            if (tokens[i].Type == TokenType.Argument && word.Length > 1 && word[0] == '-' && parse.UnmatchedTokens.Contains(word))
                leading.Add(word.Split('=')[0]);
        }
        if (leading.Count == 0) return null;
        string where = PathOf(leaf);
        foreach (string name in leading)
        {
            if (leaf.Command.Options.Any(own => own.Name == name || own.Aliases.Contains(name))) continue;
            string message = $"{TextFormat.Quote(name)} is not an option of '{where}' (see '{where} --help')";
            if (leaf.Command.Arguments.Any(argument => argument.Name == "command"))
                message += $"; to pass it to the recorded command, write it after '--' ('{where} -- run boot {name} ...')";
            errors.Add(message);
        }
        if (errors.Count > 0) return null;

        // Everything before the first command word moves behind the subcommand's name.
        var reordered = new List<string>(tokens.Count);
        for (int i = firstCommand; i <= leafName; i++) reordered.Add(tokens[i].Value);
        for (int i = 0; i < firstCommand; i++) reordered.Add(tokens[i].Value);
        for (int i = leafName + 1; i < tokens.Count; i++) reordered.Add(tokens[i].Value);
        // The tokens are already expanded: a value that starts with '@' must not be read as a response file again.
        return root.Parse(reordered, new ParserConfiguration { ResponseFileTokenReplacer = null });
    }

    /// <summary>Reports words starting with '-' that System.CommandLine gave to a command's arguments because it
    /// did not know them as options; after '--' they are arguments as written.</summary>
    private static void FindOptionsAmongArguments(ParseResult parse, List<string> errors)
    {
        IReadOnlyList<Token> tokens = parse.Tokens;
        int doubleDash = IndexOf(tokens, token => token.Type == TokenType.DoubleDash);
        foreach (ArgumentResult argument in parse.CommandResult.Children.OfType<ArgumentResult>())
        {
            foreach (Token token in argument.Tokens)
            {
                if (token.Value.Length < 2 || token.Value[0] != '-') continue;
                int position = IndexOf(tokens, candidate => ReferenceEquals(candidate, token));
                if (doubleDash >= 0 && position > doubleDash) continue;
                string where = PathOf(parse.CommandResult);
                errors.Add($"unknown option {TextFormat.Quote(token.Value)} for '{where}' (see '{where} --help')");
            }
        }
    }

    private static int IndexOf(IReadOnlyList<Token> tokens, Func<Token, bool> match)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            if (match(tokens[i])) return i;
        }
        return -1;
    }
}
