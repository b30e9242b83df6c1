package dev.lamina.tokenizer;

/** The model of a tokenizer pipeline: turns one pre-tokenized piece into ids (tokenizer.json's "model"). */
sealed interface SubwordModel permits BpeModel, UnigramModel {

    /** Appends the ids of piece to out. */
    void encode(String piece, IntList out);

    /** Number of ids the model vocabulary spans (max id + 1). */
    int size();

    /** The token string of id, or null. */
    String token(int id);

    /** The id of a token string, or -1. */
    int id(String token);
}
