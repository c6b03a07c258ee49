// The `--where` language, by recursive descent:
//
//   filter     := or EOF
//   or         := and ( OR and )*
//   and        := not ( AND not )*
//   not        := NOT not | '(' or ')' | comparison
//   comparison := operand op operand                       op: = == != <> < <= > >=
//               | operand IS [NOT] NULL
//               | operand [NOT] BETWEEN operand AND operand
//               | operand [NOT] IN '(' value ( ',' value )* ')'
//   operand    := column | value
//   value      := number | string                          number: [+-]digits[.digits][e[+-]digits]
//
// Keywords are case-insensitive; strings take single or double quotes, a doubled quote
// standing for itself. Every value becomes a bound parameter and every column goes through
// the caller's resolver, so no text a user types is ever pasted into SQL.
//
// Missing values: a comparison with a missing value is false (not SQL's "unknown"), so
// `not (z < 1)` is exactly the objects that `z < 1` leaves out, those without z included.
#include "core/catalog/where.h"

#include "core/common/error.h"

#include <charconv>
#include <cstdlib>

namespace astroclip {

namespace {

enum class Tok { Column, Number, String, Keyword, Operator, Sign, LParen, RParen, Comma, End };

struct Token {
    Tok type;
    std::string text;  // as written (keywords lower-cased; strings with their quotes)
    Value value;       // numbers and strings
    size_t pos;        // 1-based character position
};

[[noreturn]] void fail(const std::string& message) { throw UsageError("--where: " + message); }

bool isKeyword(std::string_view w) {
    return w == "and" || w == "or" || w == "not" || w == "is" || w == "null" || w == "between" || w == "in";
}
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
bool isContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

class Lexer {
public:
    explicit Lexer(const std::string& s) : s_(s) {}

    std::vector<Token> run() {
        std::vector<Token> out;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') { ++i_; continue; }
            const size_t start = i_, pos = position(i_);
            if (isIdentStart(c)) {
                while (i_ < s_.size() && isIdentChar(s_[i_])) ++i_;
                std::string word = s_.substr(start, i_ - start), lower = word;
                for (auto& ch : lower) if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
                if (isKeyword(lower)) out.push_back({Tok::Keyword, lower, {}, pos});
                else out.push_back({Tok::Column, word, {}, pos});
            } else if (isDigit(c) || (c == '.' && i_ + 1 < s_.size() && isDigit(s_[i_ + 1]))) {
                out.push_back(number(pos));
            } else if (c == '\'' || c == '"') {
                out.push_back(string(pos));
            } else if (c == '(' || c == ')' || c == ',') {
                ++i_;
                out.push_back({c == '(' ? Tok::LParen : c == ')' ? Tok::RParen : Tok::Comma, std::string(1, c), {}, pos});
            } else if (c == '+' || c == '-') {
                ++i_;
                out.push_back({Tok::Sign, std::string(1, c), {}, pos});
            } else if (const size_t len = operatorLength(); len > 0) {
                out.push_back({Tok::Operator, s_.substr(i_, len), {}, pos});
                i_ += len;
            } else {
                size_t end = i_ + 1;  // show a whole UTF-8 character
                while (end < s_.size() && isContinuationByte(s_[end])) ++end;
                fail("unexpected character '" + s_.substr(i_, end - i_) + "' at position " + std::to_string(pos));
            }
        }
        out.push_back({Tok::End, "", {}, position(s_.size())});
        return out;
    }

private:
    // Characters, not bytes, so positions match what the user sees. Asked for in increasing
    // order, so counting goes on from the last answer.
    size_t position(size_t byte) {
        for (; countedBytes_ < byte; ++countedBytes_) countedChars_ += isContinuationByte(s_[countedBytes_]) ? 0 : 1;
        return countedChars_ + 1;
    }

    size_t operatorLength() const {
        const std::string_view rest = std::string_view(s_).substr(i_);
        for (const std::string_view op : {"==", "!=", "<>", "<=", ">="})
            if (rest.starts_with(op)) return 2;
        return rest[0] == '=' || rest[0] == '<' || rest[0] == '>' ? 1 : 0;
    }

    Token number(size_t pos) {
        const size_t start = i_;
        bool integral = true;
        while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
        if (i_ < s_.size() && s_[i_] == '.') {
            integral = false;
            ++i_;
            while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            integral = false;
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            const size_t digits = i_;
            while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
            if (i_ == digits) malformed(start, pos);
        }
        if (i_ < s_.size() && (isIdentChar(s_[i_]) || s_[i_] == '.')) malformed(start, pos);
        const std::string text = s_.substr(start, i_ - start);
        if (integral) {
            int64_t n = 0;
            const auto r = std::from_chars(text.data(), text.data() + text.size(), n);
            if (r.ec == std::errc()) return {Tok::Number, text, n, pos};
            // Too large for a 64-bit integer: compare as a real number.
        }
        double d = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), d);
        if (r.ec != std::errc()) fail("number '" + text + "' is out of range at position " + std::to_string(pos));
        return {Tok::Number, text, d, pos};
    }

    [[noreturn]] void malformed(size_t start, size_t pos) {
        while (i_ < s_.size() && (isIdentChar(s_[i_]) || s_[i_] == '.')) ++i_;
        fail("malformed number '" + s_.substr(start, i_ - start) + "' at position " + std::to_string(pos));
    }

    Token string(size_t pos) {
        const char quote = s_[i_];
        const size_t start = i_++;
        std::string content;
        for (;;) {
            if (i_ >= s_.size()) fail("unterminated string starting at position " + std::to_string(pos));
            if (s_[i_] == quote) {
                if (i_ + 1 < s_.size() && s_[i_ + 1] == quote) {  // doubled quote: the quote itself
                    content += quote;
                    i_ += 2;
                    continue;
                }
                ++i_;
                return {Tok::String, s_.substr(start, i_ - start), std::move(content), pos};
            }
            content += s_[i_++];
        }
    }

    const std::string& s_;
    size_t i_ = 0;
    size_t countedBytes_ = 0, countedChars_ = 0;
};

class Parser {
public:
    Parser(std::vector<Token> tokens, const std::function<std::string(const std::string&)>& resolve)
        : t_(std::move(tokens)), resolve_(resolve) {}

    SqlFilter run() {
        SqlFilter f;
        f.sql = orExpr();
        if (peek().type == Tok::RParen) fail("unmatched ')' at position " + std::to_string(peek().pos));
        if (peek().type != Tok::End) expected("'and', 'or' or the end of the filter");
        f.params = std::move(params_);
        return f;
    }

private:
    struct Operand {
        std::string sql;
        bool column = false;
    };
    static constexpr int kMaxDepth = 200;  // parentheses and nots; deeper is not a real filter

    const Token& peek() const { return t_[k_]; }
    bool atKeyword(std::string_view w) const { return peek().type == Tok::Keyword && peek().text == w; }
    static std::string show(const Token& t) { return t.type == Tok::String ? t.text : "'" + t.text + "'"; }

    // "expected X after 'tok' at position N, found 'y'"
    [[noreturn]] void expected(const std::string& what) const {
        std::string msg = "expected " + what;
        if (k_ > 0) msg += " after " + show(t_[k_ - 1]);
        msg += " at position " + std::to_string(peek().pos);
        if (peek().type != Tok::End) msg += ", found " + show(peek());
        fail(msg);
    }

    void enter() {
        if (++depth_ > kMaxDepth) fail("filter nested too deeply at position " + std::to_string(peek().pos));
    }

    std::string orExpr() {
        std::string sql = andExpr();
        while (atKeyword("or")) {
            ++k_;
            sql = "(" + sql + " OR " + andExpr() + ")";
        }
        return sql;
    }

    std::string andExpr() {
        std::string sql = notExpr();
        while (atKeyword("and")) {
            ++k_;
            sql = "(" + sql + " AND " + notExpr() + ")";
        }
        return sql;
    }

    std::string notExpr() {
        enter();
        std::string sql;
        if (atKeyword("not")) {
            ++k_;
            sql = "(NOT " + notExpr() + ")";
        } else if (peek().type == Tok::LParen) {
            ++k_;
            sql = orExpr();
            if (peek().type != Tok::RParen) expected("'and', 'or' or ')'");
            ++k_;
        } else {
            sql = comparison();
        }
        --depth_;
        return sql;
    }

    std::string comparison() {
        const size_t start = peek().pos;
        const Operand left = operand("a condition");
        if (peek().type == Tok::Operator) {
            const std::string op = peek().text;
            ++k_;
            const Operand right = operand("a value");
            needColumn(start, {left, right});
            const std::string sqlOp = op == "==" ? "=" : op == "!=" ? "<>" : op;
            return definite(left.sql + " " + sqlOp + " " + right.sql);
        }
        if (atKeyword("is")) {
            ++k_;
            const bool negated = atKeyword("not");
            if (negated) ++k_;
            if (!atKeyword("null")) expected("'null'");
            ++k_;
            needColumn(start, {left});
            return "(" + left.sql + (negated ? " IS NOT NULL)" : " IS NULL)");
        }
        const bool negated = atKeyword("not") && k_ + 1 < t_.size() && t_[k_ + 1].type == Tok::Keyword &&
                             (t_[k_ + 1].text == "between" || t_[k_ + 1].text == "in");
        if (negated) ++k_;
        const std::string notSql = negated ? " NOT" : "";
        if (atKeyword("between")) {
            ++k_;
            const Operand low = operand("a value");
            if (!atKeyword("and")) expected("'and'");
            ++k_;
            const Operand high = operand("a value");
            needColumn(start, {left, low, high});
            return definite(left.sql + notSql + " BETWEEN " + low.sql + " AND " + high.sql);
        }
        if (atKeyword("in")) {
            ++k_;
            if (peek().type != Tok::LParen) expected("'('");
            ++k_;
            std::string list;
            for (;;) {
                const Operand v = operand("a value");
                if (v.column) fail("the list after 'in' holds values, not columns (position " + std::to_string(t_[k_ - 1].pos) + ")");
                list += (list.empty() ? "" : ", ") + v.sql;
                if (peek().type == Tok::Comma) { ++k_; continue; }
                if (peek().type == Tok::RParen) { ++k_; break; }
                expected("',' or ')'");
            }
            needColumn(start, {left});
            return definite(left.sql + notSql + " IN (" + list + ")");
        }
        expected("a comparison (=, !=, <, <=, >, >=, is null, between or in)");
    }

    Operand operand(const std::string& what) {
        const Token& tok = peek();
        switch (tok.type) {
        case Tok::Column: {
            ++k_;
            try {
                return {resolve_(tok.text), true};
            } catch (const UsageError& e) {
                fail("at position " + std::to_string(tok.pos) + ": " + e.what());
            }
        }
        case Tok::Number:
        case Tok::String:
            ++k_;
            params_.push_back(tok.value);
            return {"?", false};
        case Tok::Sign: {
            ++k_;
            if (peek().type != Tok::Number) expected("a number");
            Value v = peek().value;
            ++k_;
            if (tok.text == "-") {
                if (auto* n = std::get_if<int64_t>(&v)) *n = -*n;
                else std::get<double>(v) = -std::get<double>(v);
            }
            params_.push_back(std::move(v));
            return {"?", false};
        }
        case Tok::Keyword:
            if (tok.text == "null")
                fail("compare with null using 'is null' or 'is not null' (position " + std::to_string(tok.pos) + ")");
            break;
        default:
            break;
        }
        expected(what);
    }

    // A comparison of values alone is almost always a quoted column name ('z' < 1).
    static void needColumn(size_t start, std::initializer_list<Operand> operands) {
        for (const auto& o : operands)
            if (o.column) return;
        fail("the comparison at position " + std::to_string(start) +
             " has no column in it (column names are written without quotes)");
    }

    // True or false, never SQL's unknown: a missing value makes the comparison false.
    static std::string definite(const std::string& sql) { return "coalesce(" + sql + ", 0)"; }

    std::vector<Token> t_;
    const std::function<std::string(const std::string&)>& resolve_;
    std::vector<Value> params_;
    size_t k_ = 0;
    int depth_ = 0;
};

} // namespace

SqlFilter parseWhere(const std::string& expr, const std::function<std::string(const std::string&)>& resolveColumn) {
    return Parser(Lexer(expr).run(), resolveColumn).run();
}

} // namespace astroclip
